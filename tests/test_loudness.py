""""Louder" and "quieter" by voice: heard (real recordings through the real recognizer),
acted on at every moment without touching the session, played that much louder or quieter
(real espeak-ng cues into a real speaker file; the device's own test plays them on the
virtual sound card), and kept for the next run in a private file."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from companion.audio.gain import PEAK, with_gain
from companion.audio.wav import load_16k, read_all, write_wav
from companion.core import cues
from companion.core.clock import ManualClock
from companion.hearing.files import recognize_file
from companion.hearing.sources import WavSource
from companion.hearing.whisper_engine import WhisperRecognizer
from companion.hearing.whisper_rules import WhisperOptions
from companion.loop.voice_loop import VoiceLoop
from companion.host.config import Config
from companion.speech import CueRenderer, NullSpeaker, renderer_for
from companion.speech.cuefile import voiced_dbfs
from companion.speech.filesink import FileSpeaker
from companion.speech.loudness import LIMITS_DB, STEP_DB, Loudness
from companion.storage.library import Library
from companion.storage.store import PainLog
from command import companion
from companion.bench.sessionwav import speech_spans
from fixture_names import label
from test_voice_loop import Utt, frames, scripted
# The Whisper package skip and the recognizer fixture, as the fixture tests have them.
from test_hearing_recognition import packaged, pytestmark as needs_whisper, rec  # noqa: F401

HERE = Path(__file__).parent / "audio" / "loudness"
FILES = sorted(p.name for p in HERE.glob("*.wav"))


@pytest.fixture(scope="module")
def renderer(tmp_path_factory) -> CueRenderer:
    return CueRenderer("en-us", 150, 1.0, cache_dir=tmp_path_factory.mktemp("cues"))


# ----- hearing ----------------------------------------------------------------------


def test_the_folder_has_both_ways_a_longer_and_talk():
    kinds = [n.split("__")[0] for n in FILES]
    assert {k: kinds.count(k) for k in set(kinds)} == {"louder": 3, "quieter": 4,
                                                        "hold_longer": 2, "none": 4}


@needs_whisper
@pytest.mark.parametrize("moment", ["waiting", "session"])
@pytest.mark.parametrize("name", FILES)
def test_louder_and_quieter_are_heard_while_waiting_and_in_a_session(rec, vocab, name, moment):
    """... and a "longer" stays a hold longer (without "louder" listened for, 3 of 16
    espeak-ng renders of "louder" were taken for "hold longer"; with it, 2)."""
    want = name.split("__")[0]
    if want == "hold_longer" and moment == "waiting":
        want = "none"  # nothing to hold between sessions
    got = recognize_file(rec, vocab, HERE / name, vocab.phrases_at(moment))
    assert label(got.intent) == want, got


@needs_whisper
def test_right_after_the_pain_question_louder_and_quieter_are_mostly_heard(rec, vocab):
    """Then a bare number is listened for and lifted (an answer is expected), and a
    loudness phrase can lose to one (over eight renders each: "too loud" as "two" in 1,
    "softer" as a number in 3). A rating taken so is confirmed aloud and put right by
    "pain six" (README)."""
    got = {n: label(recognize_file(rec, vocab, HERE / n, vocab.phrases_at("rating")).intent)
           for n in FILES}
    wrong = {n: g for n, g in got.items() if g != n.split("__")[0]}
    assert len(wrong) <= 1 and not any(n.startswith("none__") for n in wrong), got


@needs_whisper
def test_a_command_written_as_its_sound_is_not_taken_for_the_number_asked_for(
        rec, packaged, vocab):
    """tiny.en writes this "too loud" "2 loud": ranked with the lift an answer gets right
    after the pain question, it was "two", a rating of 2 from a user who found the question
    too loud. Two things now make it that command: the lifted "two" gives way to "too
    loud", which passes the rules unlifted (WhisperRecognizer._unlifted); and, where it
    would not, the free transcript is word for word the sound of "too loud"
    (whisper_rules.spelled_as_command). Shown on the package as published; the tuned
    default writes it "Two loud" and hears "too loud" too."""
    name = "quieter__espeak-too-loud-en-gb-m1-175-20dB.wav"
    pcm = b"".join(f.pcm for f in WavSource(HERE / name).frames())
    asked = vocab.phrases_at("rating")
    d = packaged.analyse(pcm, asked)
    assert (d.free_text, d.best, d.prior) == ("2 loud", "too loud", 0.0)
    lifted = WhisperRecognizer(vocab, WhisperOptions(model="tiny.en", answers_yield=False))
    d = lifted.analyse(pcm, asked)
    assert (d.free_text, d.best) == ("2 loud", "two") and d.prior > 0
    for r in (rec, packaged, lifted):
        got = recognize_file(r, vocab, HERE / name, asked)
        assert (got.text, label(got.intent)) == ("too loud", "quieter")


# ----- the gain ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cue(renderer) -> np.ndarray:
    return read_all(renderer.render("Lean into the ball and breathe out slowly.").path)[0]


def test_no_gain_is_the_cue_itself_and_quieter_is_exactly_quieter(cue):
    assert np.array_equal(with_gain(cue, 0.0), cue)
    down = with_gain(cue, -STEP_DB)
    assert np.allclose(down, cue * 10 ** (-STEP_DB / 20), atol=1e-7)


@pytest.mark.parametrize("db", [STEP_DB, LIMITS_DB[1]])
def test_louder_is_louder_and_never_clips(cue, db):
    """Cues are levelled to -20 dBFS with peaks up to 0.97: over 0 dB the limiter takes
    the peaks, and the voice still gets most of the gain."""
    up = with_gain(cue, db)
    assert np.abs(cue).max() * 10 ** (db / 20) > PEAK   # the limiter has peaks to take
    assert np.abs(up).max() <= PEAK + 1e-6
    gained = voiced_dbfs(up) - voiced_dbfs(cue)
    assert db - 2.5 < gained <= db + 0.01, gained
    # Smoothly: the gain between neighbouring samples moves by a hair, never a step that
    # would click (a hard clip moves it by up to the whole gain).
    loud = np.abs(cue) > 0.02
    g = up[loud] / cue[loud]
    idx = np.nonzero(loud)[0]
    near = np.diff(idx) == 1
    assert np.abs(np.diff(g))[near].max() < 0.01 * 10 ** (db / 20)


def test_a_tone_under_the_limit_is_only_scaled():
    x = (0.1 * np.sin(np.arange(16000) * 0.05)).astype(np.float32)
    assert np.allclose(with_gain(x, 6.0), x * 10 ** 0.3, atol=1e-6)


# ----- the setting ------------------------------------------------------------------


def test_steps_stop_at_the_limits_and_each_change_is_saved_privately(tmp_path):
    path = tmp_path / "data" / "loudness.json"
    loud = Loudness.load(path)
    assert loud.db == 0.0 and not path.exists()
    ups = [loud.louder() for _ in range(5)]
    assert ups == [True, True, False, False, False] and loud.db == LIMITS_DB[1]
    assert json.loads(path.read_text()) == {"gain_db": LIMITS_DB[1]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Loudness.load(path).db == LIMITS_DB[1]          # the next run speaks so
    downs = 0
    while loud.quieter():
        downs += 1
    assert downs == (LIMITS_DB[1] - LIMITS_DB[0]) / STEP_DB and loud.db == LIMITS_DB[0]
    assert Loudness.load(path).db == LIMITS_DB[0]


def test_a_replay_leaves_the_setting_alone(tmp_path):
    path = tmp_path / "loudness.json"
    path.write_text('{"gain_db": 4.0}\n')
    loud = Loudness.load(path, save=False)
    assert loud.db == 4.0 and loud.louder() and loud.db == 8.0
    assert json.loads(path.read_text()) == {"gain_db": 4.0}


@pytest.mark.parametrize("text", ["", "{", '{"gain_db": "loud"}', '{"gain": 4}', "[4]",
                                  '{"gain_db": NaN}', '{"gain_db": 99}'])
def test_a_bad_file_speaks_at_0_db_says_so_and_is_replaced_at_the_next_change(
        tmp_path, caplog, text):
    path = tmp_path / "loudness.json"
    path.write_text(text)
    with caplog.at_level(logging.WARNING):
        loud = Loudness.load(path)
    if text == '{"gain_db": 99}':  # a number out of range is held to the limit
        assert loud.db == LIMITS_DB[1] and not caplog.records
        return
    assert loud.db == 0.0
    assert str(path) in caplog.text and "0 dB" in caplog.text
    assert loud.quieter() and json.loads(path.read_text()) == {"gain_db": -STEP_DB}


def test_a_setting_that_cannot_be_saved_still_holds_for_the_run(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    loud = Loudness.load(blocker / "loudness.json")
    with caplog.at_level(logging.WARNING):
        assert loud.louder()
    assert loud.db == STEP_DB and "cannot save the loudness" in caplog.text


# ----- the loop ---------------------------------------------------------------------


def run_loop(tmp_path, speaker, utterances, until, loudness, clock=None):
    clock = clock or ManualClock()
    out = io.StringIO()
    loop = VoiceLoop(Library(), PainLog.open(tmp_path / "log"), speaker, scripted(utterances),
                     events_out=out, clock=clock, loudness=loudness)
    loop.run(frames(until))
    return [json.loads(x) for x in out.getvalue().splitlines()]


def quiet_from(records, after: float, needed: float) -> float:
    """The first time after `after` from which nothing is said for `needed` seconds (cues
    queued together are said one after another)."""
    t = after
    for a, b in speech_spans(records):
        if a < t + needed and b > t - 0.5:
            t = max(t, b + 0.5)
    return t


def test_louder_in_a_session_changes_the_voice_not_the_session(tmp_path):
    """Said during a session: the session goes on as if nothing was said (the same steps
    at the same times as a run without it), the companion says "Louder." and speaks so
    from then on, and at the top it says so instead."""
    path = tmp_path / "loudness.json"
    start = [Utt("start neck routine", 5, 6)]
    plain = run_loop(tmp_path / "a", NullSpeaker(), start, 200, Loudness())
    t0 = quiet_from(plain, 40, 12)
    said_at = [t0, t0 + 1.5, t0 + 3, t0 + 7.5]   # "as loud as I go" takes 3 s to say
    speaker = NullSpeaker()
    records = run_loop(tmp_path / "b", speaker, start + [Utt("louder", t, t + 0.6)
                                                         for t in said_at], 200,
                       Loudness.load(path))

    def steps(rs):
        return [(r["at"], r["step"]) for r in rs if r["type"] == "StepStarted"]
    assert steps(records) == steps(plain) and len(steps(plain)) >= 3
    heard = [r for r in records if r["type"] == "heard" and r["text"] == "louder"]
    assert len(heard) == 4 and not any(r["gated"] for r in heard)
    answers = [r["text"] for r in records if r["type"] == "cue" and r["at"] >= said_at[0]
               and r["text"] in (cues.LOUDER, cues.LOUDEST)]
    assert answers == [cues.LOUDER, cues.LOUDER, cues.LOUDEST, cues.LOUDEST]
    assert speaker.gain_db == LIMITS_DB[1] == json.loads(path.read_text())["gain_db"]


def test_cues_play_as_loud_as_last_asked_in_this_run_and_the_next(tmp_path, renderer):
    """Real cues into a speaker file: after "too loud" the cues are STEP_DB quieter than
    their rendered level, after "louder" back at it; a new run starts where the last one
    ended."""
    path = tmp_path / "loudness.json"
    clock = ManualClock()
    out = tmp_path / "said.wav"
    speaker = FileSpeaker(out, renderer=renderer, clock=clock)
    records = run_loop(tmp_path, speaker, [Utt("too loud", 5, 5.6), Utt("help", 8, 8.4),
                                           Utt("louder", 30, 30.6), Utt("help", 33, 33.4)],
                       50, Loudness.load(path), clock)
    assert not any(r["gated"] for r in records if r["type"] == "heard")
    speaker.close(50)
    x, rate = read_all(out)
    got = {}
    for u in speaker.history:
        part = x[int(u.audio_start * rate):int(u.ended_at * rate)]
        got.setdefault(u.text, []).append(voiced_dbfs(part) - voiced_dbfs(
            read_all(renderer.render(u.text).path)[0]))
    assert [round(d, 1) for d in got[cues.QUIETER]] == [-STEP_DB]
    assert [round(d, 1) for d in got[cues.LOUDER]] == [0.0]
    help_line = next(t for t in got if t.startswith("To begin, say"))
    assert [round(d, 1) for d in got[help_line]] == [-STEP_DB, 0.0]
    assert json.loads(path.read_text()) == {"gain_db": 0.0}

    Loudness.load(path).quieter()             # say the last run ended a step down
    clock2 = ManualClock()
    speaker2 = FileSpeaker(tmp_path / "said2.wav", renderer=renderer, clock=clock2)
    run_loop(tmp_path / "next", speaker2, [], 5, Loudness.load(path), clock2)
    speaker2.close(5)
    x2, rate2 = read_all(tmp_path / "said2.wav")
    (greeting,) = speaker2.history
    part = x2[int(greeting.audio_start * rate2):int(greeting.ended_at * rate2)]
    ref = read_all(renderer.render(greeting.text).path)[0]
    assert round(voiced_dbfs(part) - voiced_dbfs(ref), 1) == -STEP_DB


def test_companion_voice_says_how_loud_it_was_last_asked_to_be(tmp_path):
    (tmp_path / "loudness.json").write_text('{"gain_db": -4.0}\n')
    r = companion("voice", "--data-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "-4 dB as last asked by voice" in r.stdout


@needs_whisper
def test_a_replayed_speak_up_is_heard_said_louder_and_leaves_the_setting_alone(tmp_path):
    """The whole chain as `companion run --mic-file` runs it: the recording through the
    real recognizer and loop, espeak-ng cues into a speaker file. The run starts at the
    saved -4 dB (the greeting), "speak up" brings it to 0 dB ("Louder."), and since a
    replay only reproduces a session, the saved setting stays as it was."""
    speech = load_16k(HERE / "louder__espeak-speak-up-en-gb-m1-175-20dB.wav")
    quiet = np.zeros(6 * 16000, dtype=np.float32)
    wav = tmp_path / "session.wav"
    write_wav(wav, np.concatenate([quiet, speech, quiet]))
    data = tmp_path / "data"
    data.mkdir()
    (data / "loudness.json").write_text('{"gain_db": -4.0}\n')
    cache = tmp_path / "cache"
    said, events = tmp_path / "said.wav", tmp_path / "events.jsonl"
    r = companion("run", "--mic-file", str(wav), "--speaker-file", str(said), "--events",
                  str(events), "--data-dir", str(data), "--voice-engine", "pyttsx3",
                  "--quiet", env={**os.environ, "COMPANION_CACHE_DIR": str(cache)})
    assert r.returncode == 0, r.stderr
    records = [json.loads(x) for x in events.read_text().splitlines()]
    assert [r["intent"] for r in records if r["type"] == "heard"] == ["louder"]
    cues_said = [r["text"] for r in records if r["type"] == "cue"]
    assert cues_said == [cues.LISTENING, cues.LOUDER]
    x, rate = read_all(said)
    renderer = renderer_for(Config(voice_engine="pyttsx3"), cache_dir=cache / "cues")
    spans = speech_spans(records)
    level = []
    for text, (a, _) in zip(cues_said, spans):
        ref = read_all(renderer.render(text).path)[0]
        level.append(voiced_dbfs(x[int(a * rate):int(a * rate) + len(ref)]) - voiced_dbfs(ref))
    assert [round(v, 1) for v in level] == [-STEP_DB, 0.0]
    assert json.loads((data / "loudness.json").read_text()) == {"gain_db": -4.0}
