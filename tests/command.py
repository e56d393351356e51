"""Running the `companion` command in tests as a user runs it: `python -m companion ARGS`,
output captured as text. Shared by the test files that drive the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Mapping, Optional


def companion(*args: str, env: Optional[Mapping[str, str]] = None, stdin: Optional[str] = None,
              cwd: Optional[Path] = None, timeout: float = 120,
              traceback_ok: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the command to the end. A traceback is a bug whatever the exit code: it fails the
    test here unless the test is about one (traceback_ok)."""
    r = subprocess.run([sys.executable, "-m", "companion", *args], input=stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL,
                       capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    assert traceback_ok or "Traceback" not in r.stderr, r.stderr
    return r
