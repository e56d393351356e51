"""`companion config show|check` and `companion devices`."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from companion.host import config
from companion.audio import devices
from companion.core.errors import CompanionError


def register(sub, common) -> None:
    p = sub.add_parser("config", parents=[common], help="show or check the config file")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, func, text in (("show", show, "print the settings in effect and their source"),
                             ("check", check, "validate the config file and its devices")):
        q = csub.add_parser(name, parents=[common], help=text)
        q.add_argument("--config", metavar="FILE", help="config file (default: XDG config dir)")
        q.set_defaults(func=func)
    d = sub.add_parser("devices", parents=[common], help="list audio input and output devices")
    d.set_defaults(func=list_devices)


def _toml_value(v) -> str:
    if v is None:
        return '""'
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def show(args: argparse.Namespace) -> int:
    path = Path(args.config) if args.config else config.config_path()
    print(f"# {path}" + ("" if path.exists() else " (not there: defaults)"))
    for name, value, description, source in config.explained(args):
        print()
        for line in textwrap.wrap(description, 86):
            print(f"# {line}")
        print(f"# from {source}")
        print(f"{name} = {_toml_value(value)}")
    return 0


def check(args: argparse.Namespace) -> int:
    path = Path(args.config) if args.config else config.config_path()
    cfg = config.effective(args)
    problems = []
    for kind in ("input", "output"):
        spec = getattr(cfg, f"{kind}_device")
        if spec is None or spec == "":
            continue
        try:
            devices.find_device(spec, kind)
        except CompanionError as e:
            problems.append(f"{path}: {kind}_device: {e}")
    if cfg.model_path is not None and not cfg.model_path.is_dir():
        problems.append(f"{path}: model_path: no folder at {cfg.model_path}; run "
                        "`companion model download` or fix the path")
    if problems:
        raise CompanionError("\n".join(problems))
    print(f"ok: {path}" + ("" if path.exists() else " (not there: defaults are fine)"))
    return 0


def list_devices(args: argparse.Namespace) -> int:
    found = devices.list_devices()
    if not found:
        print("No audio devices found. Is a USB microphone or sound card plugged in?")
        return 1
    print(f"{'#':>3}  {'in':>2} {'out':>3}  {'rate':>6}  name (host API)")
    for d in found:
        print(f"{d.index:>3}  {d.inputs:>2} {d.outputs:>3}  {d.default_rate:>6.0f}  "
              f"{d.name} ({d.host_api})")
    return 0
