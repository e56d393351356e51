"""tiny.en-tuned, the default since 2026-12-07 (hearing/tuned/): the packaged tiny.en with its
decoder's cross-attention tuned on the commands. Real recordings and real espeak-ng renders
through it: it is what loads by default, the recordings of talk, words and noise in
tests/audio are hardly ever taken for a command, and commands of several words are heard far
more often than by the package as published (still selectable: whisper_model = "tiny.en").
The fixtures' bars are test_hearing_recognition.py's, run on the default."""

from __future__ import annotations

from pathlib import Path

from companion.bench import phrases, recognition as bench, synth
from companion.hearing.files import recognize_file
from companion.hearing.whisper_engine import WhisperRecognizer
from fixture_names import AUDIO
from test_hearing_recognition import packaged, pytestmark, rec  # noqa: F401


def test_the_default_loads_the_tuned_weights(rec, packaged):
    assert rec.model_name == "tiny.en-tuned"
    assert rec.model_path.name == "whisper-tiny.en-tuned-int8"
    assert packaged.model_path.name == "whisper-tiny.en-int8"


def test_talk_words_and_noise_in_the_project_are_hardly_ever_a_command(rec, vocab):
    """Every `none__` recording under tests/audio (talk that begins like a command, other
    words, room noise, chatter), heard in a session: at most one is acted on. That one is
    the cost the README states: talk from the soak ("let's take a quick break and have some
    tea") is "next" to the tuned model (the packaged one rejects it), as the session soak
    acts on 14 utterances in two hours against 12."""
    negatives = sorted(AUDIO.rglob("none__*.wav"))
    assert len(negatives) >= 50
    got = {str(p.relative_to(AUDIO)): recognize_file(rec, vocab, p,
                                                     bench.context(vocab, None)).intent
           for p in negatives}
    acted = {k: v for k, v in got.items() if v is not None}
    assert len(acted) <= 1, acted


def test_commands_of_several_words_are_heard_far_more_often(rec, packaged, vocab, tmp_path):
    """Every other phrase of several words (`bench phrases`' ways), said by the benches'
    four espeak-ng voices at 175 words a minute: at least 90 % acted on as meant by the
    tuned model (2026-12-07: 94 %), more than by the packaged one (86 %), and at most two
    acted on as another command."""
    said = [w for w in phrases.ways(vocab) if " " in w.phrase][::2]
    voices = [(v, 175) for v in synth.VOICES]

    def right(r: WhisperRecognizer) -> tuple[int, int]:
        res = phrases.run(r, vocab, tmp_path, [], False, said, voices)
        return (sum(h.got == w.means for w, h in res),
                sum(h.got is not None and h.got != w.means for w, h in res))

    n = len(said) * len(voices)
    (mine, other), (theirs, _) = right(rec), right(packaged)
    assert mine >= 0.9 * n and other <= 2, (mine, other, n)
    assert mine > theirs, (mine, theirs, n)


def test_tuned_file_and_its_readme_ship_with_the_package():
    from companion.hearing import whisper_model

    folder = Path(whisper_model.__file__).with_name("tuned")
    assert (folder / whisper_model.TINY_EN_TUNED.tuned).is_file()
    assert "Licence" in (folder / "README.md").read_text(encoding="utf-8")
