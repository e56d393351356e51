"""The voice learned in use, kept between runs (hearing/learned_file.py): the learned takes'
frames in learned.npz beside the log (private, never their sound), written when they changed
and a minute has passed, and when the recognizer closes; loaded at the next start.

Real recordings (tests/audio/taught/, FSDD's Belgian speaker, as in test_learned_voice.py)
through the real recognizer; a fake clock for the minute between writes, and a folder that
is a file for a disk that refuses."""

from __future__ import annotations

import logging
import os
import stat

import numpy as np
import pytest

from companion.hearing.engines import make_recognizer
from companion.hearing.learned_file import LearnedFile, load_learned
from companion.hearing.templates import VoiceTemplates
from fixture_names import label
from test_hearing_recognition import expected, packaged, pytestmark, rec  # noqa: F401
from test_learned_voice import HEARD, USED, fsdd_named, heard, learning, use
from test_taught_voice import companion


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def takes_in(path) -> dict[str, int]:
    with np.load(path) as z:
        assert all(z[f].dtype == np.float16 for f in z.files if f != "meta")
    return {p: len(t) for p, t in VoiceTemplates.load(path).takes.items()}


def test_what_it_learned_is_heard_by_after_a_restart(packaged, vocab, tmp_path):
    # The package as published, as test_learned_voice.py's lesson (the tuned default
    # learns his "six"es as "three").
    rec = packaged
    where, clock = tmp_path / "data" / "learned.npz", Clock()
    rec.learned_file = LearnedFile(where, every_s=60.0, clock=clock)
    try:
        with learning(rec, VoiceTemplates(rec.model_name)) as voice:
            acted = use(rec, vocab, USED)  # his eight answers, within the minute
            # The first take learned is written at once; the rest wait for the minute ...
            assert sum(takes_in(where).values()) == 1
            clock.t += 61
            rec.acted_on(_utterance("two"))  # (nothing accepted since: no take is added)
            assert takes_in(where) == {p: len(t) for p, t in voice.takes.items()}
            # ... or for the recognizer to close; unchanged, it is not written again.
            voice.drop("two", voice.takes["two"][0])
            rec.close()
            assert sum(takes_in(where).values()) == len(voice) == len(acted) - 1
            os.utime(where, (0, 0))
            rec.close()
            assert os.stat(where).st_mtime == 0
    finally:
        rec.learned_file = None
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(where.parent).st_mode) == 0o700
    # The next start: the frames come back, their sound does not (no audio is kept).
    kept, note = LearnedFile(where).load(rec.model_name)
    assert note == "" and len(kept) == len(acted) - 1 and kept.sounds == {}
    want = {n: label(expected(n)) for n in HEARD}
    with learning(rec, kept):
        after = {n: heard(rec, vocab, n) for n in HEARD}
    alone = {n: heard(rec, vocab, n) for n in HEARD}
    assert sum(after[n] == want[n] for n in HEARD) >= 4 > sum(alone[n] == want[n]
                                                              for n in HEARD) + 2, after
    assert all(after[n] in (want[n], "none") for n in HEARD), after


def _utterance(text: str):
    from companion.core.interfaces import Utterance

    return Utterance(text, 0.9, 0.0, 1.0)


def test_a_disk_that_refuses_loses_nothing_learned_and_tries_again(tmp_path, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    kept = LearnedFile(blocked / "learned.npz", every_s=60.0, clock=(clock := Clock()))
    voice = VoiceTemplates("tiny.en", {"six": [np.ones((6, 4))]})
    with caplog.at_level(logging.WARNING):
        assert not kept.save(voice)
    assert "could not keep the learned voice" in caplog.text and len(voice) == 1
    voice.add("two", np.ones((6, 4)))
    kept.changed(voice)  # within the minute: not tried again at once
    assert caplog.text.count("could not keep") == 1
    blocked.unlink()
    clock.t += 61
    kept.changed(voice)
    assert takes_in(blocked / "learned.npz") == {"six": 1, "two": 1}


def test_nothing_learned_writes_no_file_and_a_broken_one_is_learned_again(tmp_path):
    kept = LearnedFile(tmp_path / "learned.npz")
    voice, note = kept.load("tiny.en")
    assert len(voice) == 0 and note == ""
    assert not kept.save(voice) and not (tmp_path / "learned.npz").exists()
    (tmp_path / "learned.npz").write_bytes(b"not a zip")
    voice, note = kept.load("tiny.en")
    assert len(voice) == 0 and "learned voice is not used" in note
    assert "learned again as you use the companion" in note
    VoiceTemplates("base", {"four": [np.ones((5, 4))]}).save(tmp_path / "learned.npz")
    assert "made with Whisper base, not tiny.en" in load_learned(tmp_path / "learned.npz",
                                                                 "tiny.en")[1]
    voice.add("four", np.ones((5, 4)))
    assert kept.save(voice)  # the companion's own file, remade as it learns
    assert takes_in(tmp_path / "learned.npz") == {"four": 1}


def test_removed_while_it_runs_it_is_forgotten_not_written_back(tmp_path):
    """`companion enroll --forget` while the companion runs: the next write finds the file
    gone and forgets what is in memory too; what it learns after that is kept anew."""
    where = tmp_path / "learned.npz"
    VoiceTemplates("tiny.en", {"six": [np.ones((6, 4))]}).save(where)
    kept = LearnedFile(where, clock=(clock := Clock()))
    voice, _ = kept.load("tiny.en")
    voice.add("two", np.ones((6, 4)))
    where.unlink()
    kept.changed(voice)
    assert not where.exists() and len(voice) == 0
    assert not kept.save(voice) and not where.exists()
    voice.add("next", np.ones((6, 4)))
    clock.t += 61
    kept.changed(voice)
    assert takes_in(where) == {"next": 1}


def test_after_a_restart_the_takes_with_their_sound_are_the_ones_shown(vocab):
    """Kept takes come back as frames alone; takes learned since carry their sound. The model
    is shown, for each phrase, its nearest take that has a sound, even where a kept one
    without lies nearer (until 2026-12-06 such a phrase was shown no take at all)."""
    from companion.hearing.user_voice import UserVoice
    from companion.hearing.whisper_rules import Decoded, WhisperOptions

    rng = np.random.default_rng(3)
    heard_now = rng.standard_normal((12, 8)).astype(np.float32)
    near = lambda k: heard_now + k * rng.standard_normal((12, 8)).astype(np.float32)  # noqa
    user = UserVoice("tiny.en", vocab.parse)
    user.learned = VoiceTemplates("tiny.en", {"six": [near(0.05)], "three": [near(0.5)]})
    user.learned.add("six", near(0.4), sound=b"six!")     # learned since the restart
    user.learned.add("three", near(0.6), sound=b"three!")
    m = user.learned.match(heard_now, {"six", "three"}, vocab.parse)
    assert m is not None and m.phrase == "six" and m.rival == "three"
    assert user.learned.sound_of(m.nearest["six"][1]) is None  # the nearest: frames alone
    assert {p: sound for p, (_, sound) in m.audible.items()} == {"six": b"six!",
                                                                 "three": b"three!"}
    shown: list = []
    d = Decoded("Six.", -1.0, 0.1, "six", -1.0, 0.6)
    user.judge(heard_now, {"six", "three"}, d, WhisperOptions(),
               lambda examples, phrases: shown.append(examples) or "six")
    assert shown == [[("three", b"three!"), ("six", b"six!")]]  # nearest last


def test_the_companion_loads_and_keeps_it_unless_told_not_to(vocab, tmp_path):
    where = tmp_path / "learned.npz"
    VoiceTemplates("tiny.en", {"six": [np.ones((6, 4))] * 2}).save(where)
    live = make_recognizer(vocab, "whisper", learned_voice=where)
    assert len(live.user.learned) == 2 and live.learned_file is not None
    # Takes of a safety word, learned before they no longer were, are read without them.
    VoiceTemplates("tiny.en", {"six": [np.ones((6, 4))] * 2,
                               "it's sharp": [np.ones((6, 4))]}).save(where)
    live = make_recognizer(vocab, "whisper", learned_voice=where)
    assert live.user.learned.phrases() == {"six"}
    replay = make_recognizer(vocab, "whisper", learned_voice=where, keep_learned=False)
    assert len(replay.user.learned) == 2 and replay.learned_file is None
    off = make_recognizer(vocab, "whisper", learned_voice=where, learn_voice=False)
    assert len(off.user.learned) == 0 and off.learned_file is None
    where.write_bytes(b"broken")
    broken = make_recognizer(vocab, "whisper", learned_voice=where)
    assert len(broken.user.learned) == 0 and "learned voice is not used" in broken.voice_note


def test_enroll_lists_and_forgets_what_was_learned_too(tmp_path):
    env = {**os.environ, "COMPANION_DATA_DIR": str(tmp_path / "data"),
           "COMPANION_CONFIG_DIR": str(tmp_path / "config")}
    assert "learned voice: none yet" in companion("model", "list", env=env).stdout
    VoiceTemplates("tiny.en", {"six": [np.ones((6, 4))] * 3, "next": [np.ones((6, 4))]}
                   ).save(tmp_path / "data" / "learned.npz")
    listed = companion("enroll", "--list", env=env).stdout
    assert "nothing taught yet" in listed and "learned in use:" in listed
    assert "six: 3 takes" in listed and "next: 1 take" in listed
    assert "learned voice: 2 phrases, 4 takes" in companion("model", "list", env=env).stdout
    gone = companion("enroll", "--forget", env=env)
    assert gone.returncode == 0 and "removed" in gone.stdout
    assert not (tmp_path / "data" / "learned.npz").exists()


def test_the_benchmark_hears_a_returning_speaker(rec, vocab, tmp_path):
    """`bench recognition --learn --returning`: his companion learned from his answers
    before (another split), then restarted: it hears his six takes by the frames it kept."""
    from companion.bench import recognition as bench
    from companion.bench.taught import Learner

    answers, cases = fsdd_named(tmp_path)
    learner = Learner(rec)
    try:
        heard_before = learner.returning(
            cases[:answers], lambda cs: bench.run(rec, vocab, cs, learner=learner), tmp_path)
        kept = learner.voices[("fsdd", "nicolas")]
        assert heard_before == answers and len(kept) >= 5 and kept.sounds == {}
        assert not (tmp_path / "learned.npz").exists()
        back, _, _ = bench.run(rec, vocab, cases[answers:], learner=learner)
    finally:
        rec.user.learned = VoiceTemplates(rec.model_name)
    plain, _, _ = bench.run(rec, vocab, cases[answers:])
    assert plain["number"].right <= 1 and back["number"].right >= 4


def test_a_returning_speaker_needs_a_companion_that_learns(tmp_path):
    r = companion("bench", "recognition", "--returning", "--data", str(tmp_path))
    assert r.returncode != 0 and "--returning goes with --learn" in r.stderr
    r = companion("bench", "recognition", "--learn", "--returning", "--split", "all",
                  "--data", str(tmp_path))
    assert r.returncode != 0 and "--split dev or test" in r.stderr


@pytest.fixture(autouse=True)
def _no_learned_file_left(rec):
    yield
    rec.learned_file = None
