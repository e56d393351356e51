"""`companion model`: the speech models the companion can use, which is in effect, the
user's taught and learned voices; and Vosk's download, the one command that uses the
network."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

from companion.core.errors import CompanionError


def register(sub) -> None:
    mp = sub.add_parser("model", help="speech models: which can be used, which is in "
                                      "effect; download Vosk's")
    mp.set_defaults(func=cmd_model_list)
    model = mp.add_subparsers(dest="model_command", metavar="WHAT")
    model.add_parser("list", help="the models the companion can use and which is in effect "
                                  "(the default)").set_defaults(func=cmd_model_list)
    d = model.add_parser("download", help="download the Vosk small English model "
                                          "(the only command that uses the network)")
    d.add_argument("--dest", metavar="DIR", help="models folder (default: models/)")
    d.add_argument("--url", help="download from a mirror instead")
    d.add_argument("--sha256", help="expected SHA-256 when using --url with another file")
    d.set_defaults(func=cmd_model_download)


def cmd_model_list(args) -> int:
    """Every engine and model with its state; the one `run` would use is marked."""
    from companion.host.config import load_config
    from companion.hearing import whisper_model
    from companion.hearing.engines import choose_engine, find_vosk_model

    cfg = load_config()
    try:
        engine, vosk_path = choose_engine(cfg.engine, cfg.model_path)
    except CompanionError as e:
        engine, vosk_path = "", None
        print(f"in effect: none ({e})")
    in_use = {"whisper": f"whisper {cfg.whisper_model}", "vosk": "vosk",
              "pocketsphinx": "pocketsphinx"}.get(engine, "")
    rows = []
    for spec in whisper_model.SPECS.values():
        rows.append((f"whisper {spec.name}", whisper_model.describe(spec)))
    found = vosk_path or find_vosk_model(cfg.model_path)
    rows.append(("vosk", f"installed at {found}" if found else
                 "not installed: `companion model download` (41 MB; the only network use)"))
    rows.append(("pocketsphinx", "bundled with its Python package (the old default, kept "
                                 "for comparison; hears about a third of commands)"))
    if in_use:
        print(f"in effect: {in_use} (engine = {cfg.engine}"
              f"{', whisper_model = ' + cfg.whisper_model if engine == 'whisper' else ''})")
    for name, state in rows:
        print(f"{'*' if name == in_use else ' '} {name:<16} {state}")
    print(f"taught voice: {_voice_state(args, cfg, learned=False)}")
    print(f"learned voice: {_voice_state(args, cfg, learned=True)}")
    return 0


def _voice_state(args, cfg, learned: bool) -> str:
    """The user's taught (`companion enroll`) or learned voice, as `model list` shows it."""
    from companion.host import config, paths
    from companion.hearing.learned_file import load_learned
    from companion.hearing.templates import load_voice

    data = config.effective(args).data_dir
    where = paths.learned_voice(data) if learned else paths.taught_voice(data)
    voice, note = (load_learned if learned else load_voice)(where, cfg.whisper_model)
    if voice is None:
        if not learned:
            return note or "none (`companion enroll` teaches it your voice)"
        return note or ("none yet (learned as you use the companion)" if cfg.learn_voice
                        else "none (learn_voice = false in config.toml)")
    kept = f"{len(voice.takes)} phrases, {len(voice)} takes, in {where}"
    if not learned:
        return f"{kept} (used by Whisper {cfg.whisper_model})"
    return kept + ("" if cfg.learn_voice else " (not used: learn_voice = false)")


def cmd_model_download(args) -> int:
    from companion.host import paths
    from companion.hearing import download

    dest = Path(args.dest).expanduser() if args.dest else paths.models_dir()
    if args.url and not args.sha256:
        raise CompanionError("--url needs --sha256 of that file (downloads are verified)")
    url = args.url or download.MODEL_URL
    sha = args.sha256 or download.MODEL_SHA256
    size = None if args.url else download.MODEL_SIZE
    already = download.is_vosk_model(dest / download.VOSK_MODEL_NAME)
    shown = [-1]

    def progress(done: int, total: Optional[int]) -> None:
        step = done * 20 // total if total else done >> 22
        if step != shown[0] and sys.stderr.isatty():
            shown[0] = step
            what = f"{done * 100 // total}%" if total else f"{done >> 20} MB"
            print(f"\rdownloading {download.VOSK_MODEL_NAME}: {what}", end="",
                  file=sys.stderr, flush=True)

    path = download.download_model(dest, url=url, sha256=sha, size=size, progress=progress)
    if sys.stderr.isatty() and not already:
        print(file=sys.stderr)
    print(f"{'already installed' if already else 'installed'}: {path}")
    return 0
