"""One OpenBLAS thread for numpy (OPENBLAS_NUM_THREADS=1, unless the user set it).

numpy's OpenBLAS starts a thread per core, and after each of the small matrix products the
companion asks of it (the mel front end, the user's takes matched) those threads spin,
waiting for more: as much CPU again as the work itself, on a device that listens all day.
`bench loop` (AMD EPYC, 2 cores, 2026-12-08): CPU per second of replayed session 0.041 ->
0.023, the share of a core while listening to loud room noise 3.3 -> 2.0 %, the same
latency (268 / 291 ms p50 / p95) and commands (31 of 31). Whisper runs on CTranslate2's own threads (`whisper_threads`), not on
these. OpenBLAS reads the variable once, when numpy is first imported: the package sets it
as it is imported, before anything of its own imports numpy."""

from __future__ import annotations

import os

VARIABLE = "OPENBLAS_NUM_THREADS"


def one_blas_thread() -> bool:
    """Ask numpy's OpenBLAS for one thread; False when the user chose a number already."""
    if VARIABLE in os.environ:
        return False
    os.environ[VARIABLE] = "1"
    return True
