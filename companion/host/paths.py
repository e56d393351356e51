"""Where the companion keeps things: one place decides, everyone asks here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import platformdirs

APP = "companion"
PACKAGE_DIR = Path(__file__).resolve().parents[1]   # companion/


def data_dir(override: Optional[str | Path] = None) -> Path:
    """The pain log's folder: `override`, else $COMPANION_DATA_DIR, else the XDG data dir.
    Commands pass what config.data_dir_choice() chose (--data-dir, $COMPANION_DATA_DIR, the
    config file's data_dir, in that order), so every command finds the same log."""
    chosen = override or os.environ.get("COMPANION_DATA_DIR")
    return Path(chosen).expanduser() if chosen else default_data_dir()


def taught_voice(override: Optional[str | Path] = None) -> Path:
    """The user's taught voice (`companion enroll`): personal, so beside the pain log."""
    return data_dir(override) / "voice.npz"


def learned_voice(override: Optional[str | Path] = None) -> Path:
    """What the companion learned of the user's voice in use (frames, never sound): beside
    the taught voice, as personal."""
    return data_dir(override) / "learned.npz"


def loudness(override: Optional[str | Path] = None) -> Path:
    """How loud the user asked the companion to speak ("louder"): beside the log, as the
    rest of what the companion keeps of its user."""
    return data_dir(override) / "loudness.json"


def default_data_dir() -> Path:
    """The XDG data folder, where the log lives when nothing else is chosen."""
    return Path(platformdirs.user_data_dir(APP))


def config_dir() -> Path:
    """User config: config.toml and routines/ for the user's own routine files."""
    chosen = os.environ.get("COMPANION_CONFIG_DIR")
    return Path(chosen).expanduser() if chosen else Path(platformdirs.user_config_dir(APP))


def cache_dir() -> Path:
    """Rendered cue audio lives here; safe to delete."""
    chosen = os.environ.get("COMPANION_CACHE_DIR")
    return Path(chosen).expanduser() if chosen else Path(platformdirs.user_cache_dir(APP))


def builtin_routines_dir() -> Path:
    """Routines shipped with the companion: inside the wheel, or the checkout's routines/."""
    inside = PACKAGE_DIR / "routines"
    return inside if inside.is_dir() else PACKAGE_DIR.parent / "routines"


def user_routines_dir() -> Path:
    return config_dir() / "routines"


def models_dir() -> Path:
    """Downloaded speech models: $COMPANION_MODELS_DIR, the checkout's models/, or XDG data."""
    chosen = os.environ.get("COMPANION_MODELS_DIR")
    if chosen:
        return Path(chosen).expanduser()
    checkout = PACKAGE_DIR.parent / "models"
    return checkout if checkout.is_dir() else data_dir() / "models"
