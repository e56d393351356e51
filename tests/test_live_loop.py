"""The hands-free loop through a real PortAudio device (the virtual sound card): phrases are
played into the virtual microphone while the companion runs, and the log is checked. And the
same session replayed from a file through --mic-file."""

from __future__ import annotations

import json
import os
import stat
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from companion.core import cues
from companion.hearing import make_recognizer
from companion.hearing.templates import VoiceTemplates
from companion.storage.library import Library
from companion.bench.sessionwav import (after_step, build, heard_take, place_when_quiet,
                                       speech_spans, steady_hiss)
from companion.speech import make_speaker
from companion.storage.store import PainLog
from companion.core.vocabulary import Vocabulary
from companion.audio.wav import load_16k, write_wav
from cue_cache import CUE_CACHE

AUDIO = Path(__file__).parent / "audio"
# What a person says through a neck session, said when the companion has finished speaking,
# as people do: (when, phrase, fixture label).
SCRIPT = [(4.0, "start neck routine", "start_routine-neck"),
          (after_step("hold", 2.0), "hold longer", "hold_longer"),
          (after_step("hold", 12.0), "pain six", "pain-6"),
          (after_step("hold", 24.0), "next", "next"),
          (after_step("micro", 3.0), "stop", "stop")]


ROOM_DB = -50.0  # dBFS of the room's steady hiss under the whole session


def companion(*args, env=None, **kw):
    """The command as a user runs it. Cues come from the live runs' shared cue cache (a
    Piper render differs in length from one render to the next, and the session WAV was
    planned with these), and a hung process can be asked for its threads' stacks (SIGABRT)."""
    env = {"COMPANION_CACHE_DIR": str(CUE_CACHE), **(env or os.environ), "PYTHONFAULTHANDLER": "1"}
    return subprocess.Popen([sys.executable, "-m", "companion", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def stacks_of(p: subprocess.Popen) -> str:
    """A process that did not exit: its Python stacks (faulthandler), then it is gone."""
    p.send_signal(signal.SIGABRT)
    try:
        return p.communicate(timeout=10)[1][-4000:]
    except subprocess.TimeoutExpired:
        p.kill()
        return "(no stacks: it did not answer SIGABRT)"


def events(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def check_session(log_dir: Path, ev: list[dict]) -> None:
    """Acted on in order (speech not made out asks nothing of a session), logged once."""
    heard = [e["intent"] for e in ev if e["type"] == "heard" and not e["gated"] and e["text"]]
    # The whole run, one line an event, to tell a miss from a gated word or a session ended
    # (a string: pytest cuts a long list short, and a stop missed once in a CI run could not
    # be told apart so).
    assert heard == ["start_routine", "hold_longer", "pain", "next", "stop"], "\n".join(
        f'{e["type"]} {e["at"]:.2f} {e.get("text", e.get("name", ""))!r} '
        f'start={e.get("start")} gated={e.get("gated")} intent={e.get("intent")}' for e in ev)
    assert any(e["type"] == "cue" and e["text"].startswith("Holding") for e in ev)
    with PainLog.open(log_dir) as log:
        (session,) = log.sessions()
        assert session["routine"] == "neck" and session["end_reason"] == "stopped"
        ratings = log.ratings()
        assert [r["value"] for r in ratings] == [6] and ratings[0]["area"] == "neck"


@pytest.fixture(scope="module")
def takes(tmp_path_factory) -> dict[str, np.ndarray]:
    """A take of each SCRIPT phrase (fixtures first, real ones among them) that the default
    engine, what `companion run` hears with, hears: these tests are about the loop,
    recognition has its own tests and benchmark."""
    tmp = tmp_path_factory.mktemp("takes")
    vocab = Vocabulary(Library().aliases())
    rec = make_recognizer(vocab)
    return {label: heard_take(text, rec, vocab, tmp, ROOM_DB,
                              sorted(AUDIO.glob(f"{label}__*.wav")))
            for _, text, label in SCRIPT}


@pytest.fixture(scope="module")
def session_wav(tmp_path_factory, takes) -> Path:
    tmp = tmp_path_factory.mktemp("wav")
    script = [(wish, text, takes[label]) for wish, text, label in SCRIPT]
    # Cue lengths decide the quiet moments: simulate with the real voice's renders, into
    # the cue cache the live run below uses, so that run says each cue at once, as after an
    # install's `voice prepare` (rendered then, Piper's second a cue pushed every cue, and
    # the gate with it, past the quiet moments planned here).
    placed = place_when_quiet(script, lambda clock: make_speaker(
        speaker_file=tmp / "simulated.wav", clock=clock, cache_dir=CUE_CACHE / "cues"))
    out = tmp / "session.wav"
    build(placed, out, total_s=placed[-1][0] + 8, noise=steady_hiss(), noise_db=ROOM_DB)
    return out


def test_replayed_session_from_a_file(tmp_path, session_wav):
    ev = tmp_path / "events.jsonl"
    out = tmp_path / "said.wav"
    p = companion("run", "--mic-file", str(session_wav), "--speaker-file", str(out),
                  "--events", str(ev), "--data-dir", str(tmp_path / "data"))
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    check_session(tmp_path / "data", events(ev))
    said = [e for e in events(ev) if e["type"] == "cue"]
    assert any(e["text"] == "Six, noted." for e in said)
    assert out.stat().st_size > 16000 * 2 * 10  # the companion's speech was written
    # The live transcript: what was heard, what it did, in order, with times.
    lines = stdout.splitlines()
    order = ["-> start_routine neck", "step 1:", "-> hold_longer", "-> pain 6",
             "pain 6 logged (neck", "-> next", "-> stop", "session ended (stopped), 1 rating"]
    found = [next(i for i, ln in enumerate(lines) if want in ln) for want in order]
    assert found == sorted(found), stdout
    assert all(ln.startswith("[") and ln[6] == "]" for ln in lines), stdout
    assert 'says "Six, noted."' in stdout


def test_quiet_replay_prints_no_transcript(tmp_path, session_wav):
    p = companion("run", "--mic-file", str(session_wav), "--speaker-file",
                  str(tmp_path / "said.wav"), "--quiet", "--data-dir", str(tmp_path / "data"))
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    assert stdout == ""
    with PainLog.open(tmp_path / "data") as log:
        assert [r["value"] for r in log.ratings()] == [6]


def _after(kind: str, text: str = "", delay: float = 1.0):
    """A wish: `delay` after the first record of this type (and text) in the run."""
    return lambda records: next((r["at"] + delay for r in records if r["type"] == kind
                                 and (not text or r.get("text") == text)), None)


def _replayed(tmp_path: Path, script: list) -> tuple[str, list[dict]]:
    """Each (wish, text, audio) said when the companion has finished speaking, over the
    room's hiss, replayed through `companion run --mic-file`: its transcript and events."""
    placed = place_when_quiet(script)
    wav, ev = tmp_path / "session.wav", tmp_path / "events.jsonl"
    build(placed, wav, total_s=placed[-1][0] + 6, noise=steady_hiss(), noise_db=ROOM_DB)
    p = companion("run", "--mic-file", str(wav), "--no-speaker", "--events", str(ev),
                  "--data-dir", str(tmp_path / "data"))
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    return stdout, events(ev)


def test_an_answer_not_understood_is_asked_for_again(tmp_path, takes):
    """A real replay: after "how is the pain now?" someone says something that is no
    number (real talk, which the recognizer rejects); the companion asks once more, and
    the number said after that is logged. ("What's for lunch" was the talk until a lifted
    number came to give way to a command: over this replay's hiss it is "what's next" in a
    session, and now right after the question too.)"""
    stdout, records = _replayed(tmp_path, [   # each said when the companion has finished
        (4.0, "start neck routine", takes["start_routine-neck"]),
        (_after("RatingAsked"), "", load_16k(AUDIO / "none__talk-how-about-a.wav")),
        (_after("cue", cues.RATE_AGAIN), "pain six", takes["pain-6"]),
        (_after("cue", "Six, noted."), "stop", takes["stop"])])
    order = [("rejected" if not e["text"] else e["intent"]) if e["type"] == "heard" else
             e["text"] for e in records if e["type"] == "heard" and not e["gated"]
             or e["type"] == "cue" and e["text"] in (cues.RATE, cues.RATE_AGAIN)]
    assert order == ["start_routine", cues.RATE, "rejected", cues.RATE_AGAIN, "pain",
                     "stop"], order
    with PainLog.open(tmp_path / "data") as log:
        assert [r["value"] for r in log.ratings()] == [6]
    assert "heard speech, not understood" in stdout


def test_a_rating_heard_only_for_the_question_is_asked_back_and_a_yes_logs_it(tmp_path, takes):
    """A real replay: right after "how is the pain now?" a Speech Commands "on" (which the
    model writes "on", and the question's lift makes "one") is asked back, not logged; a
    real "yes" then logs it."""
    # Placed by a simulation that hears the texts exactly, so knows nothing of the asking
    # back: the yes and the stop go a few seconds after what came before them.
    stdout, records = _replayed(tmp_path, [
        (4.0, "start neck routine", takes["start_routine-neck"]),
        (_after("RatingAsked"), "one", load_16k(AUDIO / "none__sc-on-0.wav")),
        (_after("heard", "one", 7.0), "yes", load_16k(AUDIO / "yes__sc-yes-0.wav")),
        (_after("heard", "yes", 5.0), "stop", takes["stop"])])
    heard = [(e["intent"], e["value"], e["unsure"]) for e in records
             if e["type"] == "heard" and e["text"] and not e["gated"]]
    assert heard == [("start_routine", "neck", False), ("number", 1, True),
                     ("yes", None, False), ("stop", None, False)], heard
    kinds = [(e["type"], e.get("text")) for e in records]
    assert kinds.index(("cue", cues.ask_back(1))) < kinds.index(("PainLogged", None))
    with PainLog.open(tmp_path / "data") as log:
        assert [r["value"] for r in log.ratings()] == [1]
    assert "-> number 1, asked back" in stdout


def test_a_stop_from_the_room_is_taken_back_by_carry_on(tmp_path, takes):
    """A real replay: a hold is stopped ("stop": a real recording, as talk in the room is
    heard now and then); the user says "carry on" once the companion has finished saying it
    stopped: the step begins again and the session goes on, in one log row, until the stop
    the user means."""
    carry_on = load_16k(AUDIO / "stopped" / "resume__espeak-carry-on-en-us-f2-130-10dB.wav")
    stdout, records = _replayed(tmp_path, [
        (4.0, "start neck routine", takes["start_routine-neck"]),
        (after_step("hold", 5.0), "stop", takes["stop"]),
        (_after("cue", cues.STOPPED_UNDOABLE), "carry on", carry_on),
        (_after("cue", cues.STOP_TAKEN_BACK, 6.0), "stop", takes["stop"])])
    heard = [e["intent"] for e in records if e["type"] == "heard" and e["text"]
             and not e["gated"]]
    assert heard == ["start_routine", "stop", "resume", "stop"], heard
    holds = [e["index"] for e in records if e["type"] == "StepStarted" and e["kind"] == "hold"]
    assert len(holds) == 2 and holds[0] == holds[1]  # the stopped hold, from its start
    with PainLog.open(tmp_path / "data") as log:
        (session,) = log.sessions()
        assert session["end_reason"] == "stopped"
        assert [e["detail"] for e in log.events() if e["kind"] == "corrected"] == \
            ["stop -> resume"]
    assert '"stop" taken back: the user said resume' in stdout


class Person:
    """Someone on the ball with the companion running live: says each phrase into the
    virtual microphone once the companion has finished speaking, and says it once more when
    the companion did not act on it (missed, or drowned by a glitch of the sound server), as
    people do. Cue records are timed by when they appeared here (wall clock), so a
    companion running behind its audio still gets the quiet it needs."""

    QUIET_S = 1.0     # after the last cue ends, as people pause before speaking
    ANSWER_S = 10.0   # to act on a phrase, from the end of its playing

    def __init__(self, ev: Path, p: subprocess.Popen, tmp: Path, env: dict | None = None):
        self.ev, self.p, self.tmp, self.env = ev, p, tmp, env   # env: whose sound card
        self.seen: list[tuple[float, dict]] = []   # (wall time first seen, record)
        self.said: list[tuple[str, int]] = []      # (label, tries)

    def poll(self) -> list[dict]:
        assert self.p.poll() is None, self.p.communicate()[1][-2000:]
        records = events(self.ev)
        now = time.monotonic()
        self.seen += [(now, r) for r in records[len(self.seen):]]
        return records

    def wait(self, what: str, pred, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred(self.poll()):
            assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}; {self}"
            time.sleep(0.05)

    def quiet(self) -> bool:
        """The companion has said every cue seen so far, and a moment has passed."""
        spans = speech_spans([{**r, "at": seen} for seen, r in self.seen])
        return time.monotonic() >= (spans[-1][1] if spans else 0.0) + self.QUIET_S

    def say(self, label: str, clip: np.ndarray, intent: str, after) -> None:
        """When `after(records)` holds and the companion is quiet, say the clip; again if
        it was not acted on: once more if it was not made out (or not heard at all), and as
        often as a cue that began meanwhile drowned it (the echo gate: the companion cannot
        know when a breath cue will start). A wrong command fails at once: that is no miss."""
        wav = self.tmp / f"{label}.wav"
        write_wav(wav, np.concatenate([np.zeros(3200), clip, np.zeros(3200)]))
        misses = 0
        for tries in range(1, 7):
            self.wait(f"the moment to say {label}", lambda r: after(r) and self.quiet())
            before = len([r for r in self.poll() if r["type"] == "heard"])
            subprocess.run(["pw-play", "--target", "vmic_in", str(wav)], check=True,
                           timeout=30, env=self.env)
            answer: list[dict] = []
            deadline = time.monotonic() + self.ANSWER_S
            while not answer and time.monotonic() < deadline:
                answer = [r for r in self.poll() if r["type"] == "heard"][before:]
                time.sleep(0.05)
            if answer and answer[0]["gated"]:
                continue
            if answer and answer[0]["intent"] == intent:
                self.said.append((label, tries))
                return
            assert not answer or not answer[0]["text"], (
                f"{label} was taken for {answer[0]['text']!r}; {self}")
            misses += 1
            assert misses < 2, f"{label} was not acted on when said twice; {self}"
        raise AssertionError(f"{label} was drowned by the companion's cues 6 times; {self}")

    def __str__(self) -> str:
        heard = [(r["text"], r["start"], r["gated"]) for _, r in self.seen if r["type"] == "heard"]
        return f"said {self.said}, heard {heard}, records {[r['type'] for _, r in self.seen]}"


@pytest.mark.skipif(shutil.which("pw-play") is None, reason="pw-play missing (pipewire-bin)")
def test_live_session_through_the_virtual_sound_card(tmp_path, session_wav, takes,
                                                     virtual_audio):
    """The SCRIPT said live, each phrase when the companion has finished speaking, over the
    room's hiss. (session_wav: its simulation rendered every cue of the session into the cue
    cache, so the companion speaks at once, as after an install.)"""
    hiss = tmp_path / "hiss.wav"
    build([], hiss, total_s=300, noise=steady_hiss(), noise_db=ROOM_DB)
    ev = tmp_path / "events.jsonl"
    p = companion("run", "--events", str(ev), "--data-dir", str(tmp_path / "data"),
                  env={**os.environ, "COMPANION_CACHE_DIR": str(CUE_CACHE)})
    room = None
    try:
        person = Person(ev, p, tmp_path)
        person.wait("listening", lambda r: any(e["type"] == "cue" for e in r), 60)
        room = subprocess.Popen(["pw-play", "--target", "vmic_in", str(hiss)])

        def cue(text: str):
            return lambda r: any(e["type"] == "cue" and e["text"].startswith(text) for e in r)

        def step(kind: str):
            return lambda r: any(e["type"] == "StepStarted" and e["kind"] == kind for e in r)

        person.say("start_routine-neck", takes["start_routine-neck"], "start_routine",
                   lambda r: True)
        person.say("hold_longer", takes["hold_longer"], "hold_longer", step("hold"))
        person.say("pain-6", takes["pain-6"], "pain", cue("Holding"))
        person.say("next", takes["next"], "next", cue("Six, noted."))
        person.say("stop", takes["stop"], "stop", step("micro"))
        person.wait("the session's end", lambda r: any(e["type"] == "SessionEnded" for e in r),
                    20)
    finally:
        if room is not None:
            room.kill()
            room.wait()
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    check_session(tmp_path / "data", events(ev))
    assert any(e["type"] == "cue" and e["text"] == "Six, noted." for e in events(ev))
    # What it acted on is kept as the speech model's frames of the user's voice (never the
    # sound), privately, for the next start (hearing/learned_file.py).
    learned = tmp_path / "data" / "learned.npz"
    assert stat.S_IMODE(os.stat(learned).st_mode) == 0o600
    kept = VoiceTemplates.load(learned)
    acted = {e["text"] for e in events(ev) if e["type"] == "heard" and e["text"]}
    assert len(kept) >= 1 and set(kept.takes) <= acted and kept.sounds == {}, kept.takes


def _start_card_in(runtime_dir: str) -> list[int]:
    """Start the virtual card again under the same runtime dir (the mic 'plugged back'):
    audio_env.start waits for it to be ready and tries twice."""
    import audio_env

    return audio_env.start(runtime_dir=runtime_dir).pids


@pytest.mark.skipif(shutil.which("pipewire") is None, reason="pipewire not installed")
def test_microphone_that_vanishes_pauses_and_recovers(tmp_path, virtual_audio):
    import audio_env

    va = audio_env.start()  # a card of its own, to unplug
    ev = tmp_path / "events.jsonl"
    env = {**os.environ, **va.env, "COMPANION_CACHE_DIR": str(CUE_CACHE)}
    err_file = tmp_path / "stderr.txt"  # files: shown when a wait fails, and never full
    with open(tmp_path / "stdout.txt", "w") as out, open(err_file, "w") as err:
        p = subprocess.Popen([sys.executable, "-m", "companion", "run", "neck", "--events",
                              str(ev), "--data-dir", str(tmp_path / "data")],
                             stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    pids: list[int] = []
    try:
        # Each step waits for what the companion did, not for a time: these deadlines only
        # turn a hang into a failure. Lines the shared cue cache lacks (Piper: 57 s to the
        # first step on this 2-core machine under load, cold; an install renders them
        # beforehand) come before listening starts and before a lost microphone is noticed.
        wait_for(ev, p, lambda e: e["type"] == "StepStarted", 300, err_file)
        audio_env.stop(va)  # unplugged
        wait_for(ev, p, lambda e: e["type"] == "microphone_lost", 120, err_file)
        wait_for(ev, p, lambda e: e["type"] == "Paused", 5, err_file)  # said together
        pids = _start_card_in(va.env["XDG_RUNTIME_DIR"])  # plugged back in
        wait_for(ev, p, lambda e: e["type"] == "microphone_back", 120, err_file)
        assert p.poll() is None
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)  # a hang on SIGTERM fails the test, and leaves nothing behind
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            audio_env.stop(audio_env.VirtualAudio(va.env, pids))
    with PainLog.open(tmp_path / "data") as log:
        (session,) = log.sessions()
        assert session["end_reason"] == "interrupted", (
            p.returncode, [e["type"] for e in events(ev)][-12:], err_file.read_text()[-3000:])


def wait_for(ev: Path, p: subprocess.Popen, pred, timeout: float,
             stderr_file: Path | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(ev) if pred(e)]
        if found:
            return found[0]
        if p.poll() is not None:
            err = stderr_file.read_text() if stderr_file else p.communicate()[1]
            raise AssertionError(f"it exited ({p.returncode}): {err[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"timed out; events: {[e['type'] for e in events(ev)][-15:]}"
                         + (f"; stderr: {stderr_file.read_text()[-1500:]}" if stderr_file else ""))


@pytest.mark.skipif(shutil.which("pipewire") is None, reason="pipewire not installed")
def test_ctrl_c_closes_a_live_session_in_the_log(tmp_path, virtual_audio):
    ev = tmp_path / "events.jsonl"
    p = companion("run", "neck", "--events", str(ev), "--data-dir", str(tmp_path / "data"))
    try:
        # A bound, not a race: lines the cache lacks are rendered before the first step.
        wait_for(ev, p, lambda e: e["type"] == "StepStarted", 180)
        p.send_signal(signal.SIGINT)
        try:
            _, stderr = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 30 s after Ctrl-C:\n{stacks_of(p)}") from None
    finally:
        if p.poll() is None:
            p.kill()
    assert "Traceback" not in stderr, stderr
    with PainLog.open(tmp_path / "data") as log:
        (session,) = log.sessions()
        assert session["end_reason"] == "interrupted" and session["ended_at"] is not None


@pytest.mark.parametrize("extra, device, setting", [([], "output", "output_device"),
                                                    (["--no-speaker"], "input", "input_device")])
def test_no_speaker_or_microphone_is_a_clear_error(tmp_path, extra, device, setting):
    """No sound server reachable (an empty runtime dir): the devices there are listed and
    the setting to change is named; no traceback."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PULSE_SERVER", "PIPEWIRE_REMOTE", "DBUS_SESSION_BUS_ADDRESS", "AUDIO_PIDS")}
    env.update(XDG_RUNTIME_DIR=str(runtime), COMPANION_CACHE_DIR=str(tmp_path / "cache"),
               COMPANION_CONFIG_DIR=str(tmp_path / "cfg"))
    p = companion("run", *extra, "--data-dir", str(tmp_path / "data"), env=env)
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert f"no default {device} device" in stderr and setting in stderr, stderr
    # Where to go from here: the config file, the two commands that look, the keyboard.
    for hint in (str(tmp_path / "cfg" / "config.toml"), "`companion devices`",
                 "`companion doctor`", "--text"):
        assert hint in stderr, (hint, stderr)
    assert "speaker: " not in stderr and "Devices here:\n\n" not in stderr
