"""Run `companion ARGS...` in this process under an audit hook and write what it did.

    python tests/privacy_probe.py REPORT.json ARGS...

Python raises an audit event for every socket created, connected or bound, every name
lookup, every process started and every file opened (PEP 578). The hook records them;
after the command returns, the record goes to REPORT.json as
{"exit": code, "sockets": [...], "network": [...], "processes": [...], "writes": [...]}.
tests/test_privacy.py reads it. Files SQLite opens itself (C code) raise no event; the
test checks the data folder for those."""

from __future__ import annotations

import json
import os
import socket
import sys
from urllib.parse import unquote

RECORDING = True
sockets: list[dict] = []
network: list[dict] = []
processes: list[dict] = []
writes: list[dict] = []

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _text(x) -> str:
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    return str(x)


def _family(sock) -> int:
    try:
        return int(sock.family)
    except Exception:
        return -1


def hook(event: str, args: tuple) -> None:
    if not RECORDING:
        return
    if event == "socket.__new__":
        sockets.append({"family": int(args[1]), "type": int(args[2])})
    elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
        network.append({"event": event, "family": _family(args[0]), "address": _text(args[1])})
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                   "socket.gethostbyname_ex", "socket.getnameinfo", "urllib.Request",
                   "http.client.connect", "ftplib.connect", "smtplib.connect"):
        network.append({"event": event, "family": -1, "address": repr(args)[:300]})
    elif event == "subprocess.Popen":
        argv = args[1] if isinstance(args[1], (list, tuple)) else [args[1]]
        processes.append({"event": event, "executable": _text(args[0]),
                          "args": [_text(a) for a in argv]})
    elif event == "os.system":
        processes.append({"event": event, "executable": "/bin/sh",
                          "args": ["/bin/sh", "-c", _text(args[0])]})
    elif event in ("os.exec", "os.posix_spawn", "os.spawn"):
        argv = args[1] if event != "os.spawn" else args[2]
        processes.append({"event": event, "executable": _text(args[0 if event != "os.spawn"
                                                                    else 1]),
                          "args": [_text(a) for a in (argv or [])]})
    elif event == "open":
        path, mode, flags = args
        writing = (mode is not None and any(c in str(mode) for c in "wax+")) or \
                  (mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writing and not isinstance(path, int):
            writes.append({"path": os.path.abspath(_text(path))})
    elif event == "sqlite3.connect":  # a file: URI; SQLite opens (and may create) it
        target = _text(args[0])
        if target.startswith("file:"):
            target = unquote(target[len("file:"):].split("?", 1)[0])
        writes.append({"path": os.path.abspath(target), "sqlite": True})


def main() -> None:
    global RECORDING
    report, argv = sys.argv[1], sys.argv[2:]
    sys.addaudithook(hook)
    from companion.cli.main import main as companion_main

    try:
        code = companion_main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    RECORDING = False
    with open(report, "w", encoding="utf-8") as f:
        json.dump({"exit": code, "sockets": sockets, "network": network,
                   "processes": processes, "writes": writes,
                   "af_unix": int(socket.AF_UNIX)}, f, indent=1)
    sys.stdout.flush()
    os._exit(code)  # the stdin reader may still be blocked: do not wait for it


if __name__ == "__main__":
    main()
