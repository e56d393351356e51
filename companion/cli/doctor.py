"""`companion doctor`: check each part a session needs and say how to fix what is wrong."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from companion.host import config, paths
from companion.audio import devices
from companion.core.errors import CompanionError

if TYPE_CHECKING:
    import numpy as np

    from companion.hearing.recognizer import Recognizer


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False


def check_microphone(cfg: config.Config, seconds: float = 2.0) -> Check:
    try:
        index = devices.find_device(cfg.input_device, "input")
        import numpy as np
        import sounddevice as sd

        rec = sd.rec(int(16000 * seconds), samplerate=16000, channels=1, dtype="int16",
                     device=index, blocking=True)
    except CompanionError as e:
        return Check("microphone", False, _first_line(e),
                     "plug in a USB microphone, then set input_device (see `companion devices`)")
    except Exception as e:  # PortAudio errors have no common base worth naming here
        return Check("microphone", False, f"cannot record: {e}",
                     "check the microphone with `arecord -l` and `companion devices`")
    x = rec.astype("float64") / 32768.0
    rms = math.sqrt(float(np.mean(x * x))) if x.size else 0.0
    db = 20 * math.log10(rms) if rms > 0 else -120.0
    if db <= -90:
        return Check("microphone", False, f"records only silence ({seconds:.0f} s, {db:.0f} dBFS)",
                     "unmute it or raise its level with `alsamixer` (F4 for capture)")
    return Check("microphone", True, f"level {db:.0f} dBFS over {seconds:.0f} s of room sound")


def check_speaker(cfg: config.Config) -> Check:
    try:
        from companion.speech import make_speaker

        speaker = make_speaker(cfg)
        seconds = speaker.say("Speaker check.", 0.0)
        time.sleep(seconds + 0.3)
        speaker.close()
    except CompanionError as e:
        return Check("speaker", False, _first_line(e).removeprefix("speaker: "),
                     "plug in a speaker, then set output_device (see `companion devices`)")
    return Check("speaker", True, f"played a {seconds:.1f} s cue (you should have heard it)")


def _first_line(e: Exception) -> str:
    """An error's first line, its device list (if any) folded onto it."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    listed = [ln for ln in lines[1:] if ln.startswith("[")]
    return lines[0] + (" " + "; ".join(listed) if listed else "") if lines else ""


def check_espeak() -> Check:
    found = shutil.which("espeak-ng") or shutil.which("espeak")
    if not found:
        return Check("espeak-ng", False, "not installed", "sudo apt install espeak-ng")
    return Check("espeak-ng", True, found)


def check_recognizer(cfg: config.Config,
                     say: Optional[Callable[[str], np.ndarray]] = None) -> Check:
    """The recognizer loads, knows every command word, and hears a few phrases said by
    espeak-ng (`say`: another voice, as a test's fault) as meant (hearing_test)."""
    from companion.hearing import make_recognizer
    from companion.storage.library import Library
    from companion.core.vocabulary import Vocabulary

    try:
        t0 = time.monotonic()
        rec = make_recognizer(Vocabulary(Library().aliases()), cfg.engine, cfg.model_path,
                              whisper_model=cfg.whisper_model,
                              whisper_threads=cfg.whisper_threads,
                              taught_voice=paths.taught_voice(cfg.data_dir))
        loaded = time.monotonic() - t0
    except CompanionError as e:
        lines = str(e).splitlines()
        return Check("recognizer", False, lines[0], lines[-1] if len(lines) > 1 else
                     "run scripts/setup.sh to install the Whisper model, or see "
                     "`companion model`")
    if rec.missing_words:
        return Check("recognizer", False, f"{rec.engine}: the model lacks the words "
                     f"{', '.join(rec.missing_words)}",
                     "change those routine aliases, or use a model that knows them")
    if rec.voice_note:  # hears, but not the way the user taught it
        return Check("recognizer", False, rec.voice_note,
                     "`companion enroll` teaches it again (`--forget` removes the old one)")
    name = f"{rec.engine} {getattr(rec, 'model_name', '')}".strip()
    user = getattr(rec, "user", None)  # Whisper's: the taught voice it hears with
    voice = user.taught if user is not None else None
    n = len(voice.takes) if voice else 0
    taught = f", your voice taught for {n} phrase{'s' if n != 1 else ''}" if n else ""
    try:
        missed, ms = hearing_test(rec, say)
    except CompanionError as e:  # espeak-ng missing or broken: its own check says so
        return Check("recognizer", True, f"{name}, every command word known{taught} (loaded "
                     f"in {loaded:.1f} s; not heard: {_first_line(e)})")
    if missed:
        said, heard = missed[0]
        weak = rec.engine == "pocketsphinx"  # the 32-bit fallback: known to hear poorly
        as_what = f'"{heard}"' if heard else "nothing"
        return Check("recognizer", False,
                     f"{name} loads, but missed {len(missed)} of {len(HEARING_TEST)} phrases "
                     f'said by espeak-ng: "{said}" was heard as {as_what}',
                     "use 64-bit Raspberry Pi OS, where the Whisper model runs" if weak else
                     "reinstall the model (scripts/setup.sh); `companion model` checks its "
                     "files", optional=weak)
    return Check("recognizer", True, f"{name}, every command word known{taught}; heard "
                 f"{_listed(HEARING_TEST)} as espeak-ng says them, in about {ms:.0f} ms "
                 f"each (loaded in {loaded:.1f} s)")


# Said by espeak-ng to the recognizer, each at the moment it is listened for: a phrase the
# cues teach for each moment (waiting, in a session, paused, the rating question), and a
# safety word as the safety note asks for it (`bench safety`: "it's sharp" 30 of 30). Every
# clean render of them by espeak-ng's voices was heard as meant, well clear of the rules'
# floor, in `bench phrases` (2026-12-07): a miss means the model, not the phrase.
HEARING_TEST = ("how am i doing", "next", "it's sharp", "continue", "six")
TEST_VOICE = ("en-us+f2", 175)


def hearing_test(rec: Recognizer, say: Optional[Callable[[str], np.ndarray]] = None
                 ) -> tuple[list[tuple[str, str]], float]:
    """Each HEARING_TEST phrase said (by `say`, else espeak-ng) and heard as the loop hears
    it at its moment: (phrase, what was heard instead) for each one missed, and the median
    time in ms one took to hear (endpointer and recognizer over the whole recording, about
    a second of it: a little more than the wait after the speech ends).
    Raises CompanionError when nothing can say them."""
    import tempfile

    from companion.audio.wav import write_wav
    from companion.bench.synth import render
    from companion.core.vocabulary import moment_for
    from companion.hearing.files import recognize_file

    speak = say or (lambda text: render(text, *TEST_VOICE))
    vocab = rec.vocabulary
    missed, times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for phrase in HEARING_TEST:
            want = vocab.parse(phrase)
            assert want is not None, phrase  # the table names it
            wav = Path(tmp) / "said.wav"
            write_wav(wav, speak(phrase))
            t0 = time.perf_counter()
            r = recognize_file(rec, vocab, wav, vocab.phrases_at(moment_for(want.name)), 0.3)
            times.append(1000 * (time.perf_counter() - t0))
            if r.intent != want:
                missed.append((phrase, r.text or r.heard))
    return missed, sorted(times)[len(times) // 2]


def _listed(words: tuple[str, ...]) -> str:
    return ", ".join(f'"{w}"' for w in words[:-1]) + f' and "{words[-1]}"'


# Below this much free space where the log lives, doctor says so: a session's writes are
# small, but SQLite needs room for its journal, and a Pi's card fills with the system's
# own logs. (A disk that fills mid-session loses nothing: ratings wait in memory.)
MIN_FREE_BYTES = 20 * 1024 * 1024


def _free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def check_data_dir(cfg: config.Config, free: Callable[[Path], int] = _free_bytes) -> Check:
    """The pain log opens, is private, and has room to grow. A folder that does not exist
    yet is not made here (only `companion run` makes it, with the first session): it is
    fine if it can be."""
    from companion.storage.logfile import in_the_way
    from companion.storage.store import DB_NAME, PainLog

    folder = paths.data_dir(cfg.data_dir)
    try:
        os.stat(folder)
    except FileNotFoundError:
        blocked = in_the_way(folder / DB_NAME)
        if blocked:
            return Check("pain log", False, blocked[0], blocked[1])
        return Check("pain log", True, f"{folder} does not exist yet; `companion run` "
                     "creates it with the first session")
    except OSError:
        pass  # opening the log below says what is in the way
    try:
        with PainLog(folder / DB_NAME) as log:
            db = log.path
    except CompanionError as e:
        said, blocked = str(e).splitlines()[0], in_the_way(folder / DB_NAME)
        if blocked and blocked[0] in said:  # the same words, the fix on its own line
            return Check("pain log", False, blocked[0], blocked[1])
        return Check("pain log", False, said, "" if "--data-dir" in said else
                     f"make {folder} writable by this user, or pass --data-dir")
    loose = [p for p in (folder, db) if stat.S_IMODE(os.stat(p).st_mode) & 0o077]
    if loose:
        return Check("pain log", False, f"{', '.join(map(str, loose))} readable by others",
                     f"chmod 700 {folder} && chmod 600 {db}")
    blocked = in_the_way(db)
    if blocked:  # readable, but a session could not save ratings
        return Check("pain log", False, blocked[0], blocked[1])
    left = free(folder)
    if left < MIN_FREE_BYTES:
        return Check("pain log", False, f"only {left / 1e6:.1f} MB free where {db} is kept: "
                     "ratings may not be saved", "free some space on that disk (on a Pi: sudo "
                     "journalctl --vacuum-size=50M; sudo apt-get clean)")
    return Check("pain log", True, f"{db} (private; {left / 1e6:.0f} MB free)")


def check_clock(cfg: config.Config, now: Optional[float] = None) -> Check:
    """The system clock is not earlier than what the pain log already holds (wall_clock)."""
    from companion.storage.store import DB_NAME, PainLog
    from companion.storage.wall_clock import FIX, behind, shown

    now = time.time() if now is None else now
    clock = shown(now)
    db = paths.data_dir(cfg.data_dir) / DB_NAME
    try:
        if not db.is_file():
            return Check("clock", True, f"{clock} (nothing logged yet to compare it with)")
        with PainLog(db) as log:
            said = behind(log.latest_at(), now)
    except (CompanionError, OSError) as e:  # the pain log check says what is wrong with it
        why = str(e).splitlines()[0] if isinstance(e, CompanionError) else e.strerror
        return Check("clock", True, f"{clock} (the pain log could not be read to compare: "
                     f"{why})", optional=True)
    if said:
        return Check("clock", False, said, FIX)
    return Check("clock", True, f"{clock}, after everything in the pain log")


def check_service() -> Check:
    if not shutil.which("systemctl"):
        return Check("service", True, "no systemd here (not installed as a service)",
                     optional=True)
    r = subprocess.run(["systemctl", "is-active", "companion.service"], capture_output=True,
                       text=True, timeout=10)
    state = r.stdout.strip() or "unknown"
    if state == "active":
        return Check("service", True, "companion.service is running")
    return Check("service", False, f"companion.service is {state}",
                 "sudo scripts/install-pi.sh, or journalctl -u companion for why it stopped",
                 optional=True)


def run_checks(cfg: config.Config, skip: set[str]) -> list[Check]:
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("espeak", check_espeak),
        ("microphone", lambda: check_microphone(cfg)),
        ("speaker", lambda: check_speaker(cfg)),
        ("recognizer", lambda: check_recognizer(cfg)),
        ("data", lambda: check_data_dir(cfg)),
        ("clock", lambda: check_clock(cfg)),
        ("service", check_service),
    ]
    return [fn() for name, fn in checks if name not in skip]


def register(sub, common) -> None:
    p = sub.add_parser("doctor", parents=[common], help="check microphone, speaker, "
                       "recognizer, speech, data folder, clock and service, and say how to fix "
                       "them")
    p.add_argument("--skip", action="append", default=[],
                   choices=["espeak", "microphone", "speaker", "recognizer", "data", "clock",
                            "service"],
                   help="leave a check out (may be repeated)")
    p.set_defaults(func=doctor)


def doctor(args: argparse.Namespace, out: Optional[Callable[[str], None]] = None) -> int:
    out = out or print
    cfg = config.effective(args)
    results = run_checks(cfg, set(args.skip))
    for c in results:
        mark = "ok " if c.ok else ("-- " if c.optional else "!! ")
        out(f"{mark} {c.name:<11} {c.detail}")
        if not c.ok and c.fix:
            out(f"{'':15} fix: {c.fix}")
    failed = [c for c in results if not c.ok and not c.optional]
    return 1 if failed else 0
