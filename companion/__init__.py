"""companion: an offline, voice-guided session companion for trigger-point self-massage."""

from companion.host.blas import one_blas_thread
from companion.host.malloc import one_arena

__version__ = "0.1.0"
one_arena()  # before any thread exists (host/malloc.py says why)
one_blas_thread()  # before numpy is imported (host/blas.py says why)
