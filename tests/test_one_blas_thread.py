"""numpy's OpenBLAS keeps one thread once the package is imported (host/blas.py): its extra
threads spin after every small product, as much CPU again as the work (bench loop)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# The process's threads once numpy is loaded: OpenBLAS starts its own at import.
PROBE = r"""
import os, sys
if sys.argv[1] == "companion":
    import companion  # noqa: F401
import numpy
numpy.ones((64, 64)) @ numpy.ones((64, 64))
print(len(os.listdir("/proc/self/task")), os.environ.get("OPENBLAS_NUM_THREADS"))
"""


def _threads(what: str, **env: str) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", PROBE, what], capture_output=True, text=True,
                         env={**base, **env}, check=True)
    n, value = out.stdout.split()
    return int(n), value


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
                    reason="counts threads in /proc on a machine with two cores or more")
def test_numpy_keeps_one_thread_once_companion_is_imported_unless_the_user_chose():
    plain, _ = _threads("plain")
    assert plain > 1  # without it, OpenBLAS starts a thread per core
    assert _threads("companion") == (1, "1")
    # A number the user set is theirs: kept, and OpenBLAS uses it.
    assert _threads("companion", OPENBLAS_NUM_THREADS="2") == (2, "2")
