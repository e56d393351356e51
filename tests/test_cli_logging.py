"""Library code logs; the CLI turns warnings into one "companion: ..." line on stderr."""

from __future__ import annotations

import logging

import pytest

from companion.cli.main import setup_logging


def test_warnings_reach_stderr_once_with_the_companion_prefix(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    setup_logging()  # main() can run many times in one process: still one handler
    logging.getLogger("companion.storage.runlock").warning("cannot take the run lock %s", "x")
    logging.getLogger("companion.storage.runlock").info("not for the terminal")
    assert capsys.readouterr().err == "companion: cannot take the run lock x\n"
