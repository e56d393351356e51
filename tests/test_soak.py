"""The soak benchmark, short: three minutes of the idle stream through the voice loop and
the real PocketSphinx recognizer. Behaviour only (timed assertions flake); the figures
of the long run come from `companion bench soak`."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from companion.bench import soak
from companion.bench import synth
from companion.bench.recognition import default_data_dir
from companion.hearing.sources import FRAME_SAMPLES, RATE
from companion.storage.library import Library
from companion.core.vocabulary import Vocabulary

MINUTES = 3
SEED = 5  # a stream whose three minutes hold every kind of event and noise bed

pytestmark = [
    pytest.mark.skipif(not (default_data_dir() / "speech-commands").is_dir(),
                       reason="no shared speech recordings"),
    pytest.mark.skipif(not synth.espeak_available(), reason="espeak-ng is not installed"),
]


@pytest.fixture(scope="module")
def figures() -> dict:
    return soak.run(MINUTES / 60, SEED, "pocketsphinx", scene_s=(20.0, 60.0))


def test_idle_audio_starts_no_session(figures):
    assert figures["engine"] == "pocketsphinx"
    assert figures["spurious_starts"] == 0
    assert figures["sessions_started"] == 0
    assert figures["spurious_how_am_i"] == 0


def test_every_frame_asked_for_is_processed(figures):
    assert figures["requested_s"] == MINUTES * 60
    assert figures["audio_s"] == pytest.approx(MINUTES * 60, abs=1e-6)
    assert figures["frames"] == figures["frames_expected"] == MINUTES * 60 * RATE // FRAME_SAMPLES
    hours = [h for h, _ in figures["rss_mb"]]
    assert hours[0] == 0 and hours[-1] == pytest.approx(MINUTES / 60, abs=0.01)


def test_stream_holds_the_audio_it_claims(figures):
    s = figures["stream"]
    assert set(s["events"]) == set(soak.EVENTS) and all(s["events"].values())
    assert set(s["scene_s"]) == set(soak.SCENES)
    assert sum(s["scene_s"].values()) == pytest.approx(MINUTES * 60, abs=1)
    # The words and talk reach the recognizer as speech, within the endpointer's cap.
    assert figures["utterances"] >= s["events"]["talk"] + s["events"]["word"]
    assert 0 < figures["longest_utterance_s"] <= figures["cap_s"]


def test_stream_is_repeatable_and_holds_no_command():
    def digest(seed: int) -> str:
        h = hashlib.sha1()
        for f in soak.IdleStream(30, seed).frames():
            h.update(f.pcm)
        return h.hexdigest()

    assert digest(1) == digest(1) != digest(2)
    vocab = Vocabulary(Library().aliases())
    stream = soak.IdleStream(1, 0, vocab=vocab)
    words = {soak._said(p) for p in stream.words}
    assert {"happy", "marvin", "up", "off"} <= words
    assert not words & {"six", "nine", "five", "four", "go", "stop", "yes", "no"}
    assert all(vocab.parse(text) is None for text, _, _ in stream.talk)


def _commands_for_talk(monkeypatch, *texts: str) -> None:
    """The idle stream with the given commands (espeak-ng) in turn in place of its events."""
    said = [synth.render(t, "en-us+m3", 150) for t in texts]

    class WithCommands(soak.IdleStream):
        def _event(self):
            x = said[sum(self.events.values()) % len(said)]
            return "talk", (x * 0.1 / np.sqrt(np.mean(x ** 2))).astype(np.float32), "command"

    monkeypatch.setattr(soak, "IdleStream", WithCommands)


def test_counts_are_not_vacuous(monkeypatch):
    """Control: the same harness with real commands in place of the talk counts them,
    and a started session is ended so the rest of the stream is heard while waiting."""
    _commands_for_talk(monkeypatch, "start neck routine", "how am i doing")
    f = soak.run(2 / 60, 0, "pocketsphinx")
    assert f["spurious_starts"] >= 1 and f["sessions_started"] == f["spurious_starts"]
    assert f["spurious_how_am_i"] >= 1
    assert all(h["audio"].startswith("command") for h in f["heard"])


def test_the_command_shows_its_progress_and_figures(capsys):
    """`companion bench soak` is hours long: its progress reaches the terminal (the CLI
    otherwise shows only warnings), once per sample, and the table follows."""
    from companion.cli.main import main

    assert main(["bench", "soak", "--hours", str(1 / 60), "--engine", "pocketsphinx"]) == 0
    out, err = capsys.readouterr()
    progress = [line for line in err.splitlines() if line.startswith("soak: 0.0 h, wall")]
    assert len(progress) == 1 and "RSS" in progress[0], err
    assert "spurious" in out


def test_during_a_session_what_talk_would_do_is_counted(monkeypatch):
    """`--during session`: the same stream heard as while a routine runs. Control: with
    session commands in place of the talk, they are counted (and no start is listened for,
    so none is)."""
    _commands_for_talk(monkeypatch, "next", "hold longer")
    f = soak.run(2 / 60, 0, "whisper", during="session")
    assert f["during"] == "session" and f["spurious_starts"] == 0
    assert f["asked_back"] == 0   # nothing is lifted in a session: nothing to ask back
    assert f["other_accepted_by_intent"].get("next", 0) >= 1
    assert f["other_accepted_by_intent"].get("hold_longer", 0) >= 1
    assert all(h["audio"].startswith("command") for h in f["heard"])
    with pytest.raises(ValueError, match="during"):
        soak.run(1 / 60, 0, "whisper", during="later")


def test_just_after_a_stop_a_resume_is_counted(monkeypatch):
    """`--during stopped`: heard as just after a stop, when a resume takes it back. Control:
    "carry on" in place of the talk is counted as a resume; "next" means nothing then."""
    _commands_for_talk(monkeypatch, "carry on", "next")
    f = soak.run(2 / 60, 0, "whisper", during="stopped")
    assert f["during"] == "stopped" and f["other_accepted_by_intent"].get("resume", 0) >= 1
    assert "next" not in f["other_accepted_by_intent"]
