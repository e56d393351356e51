"""A safety phrase ranked just below a command is taken instead (WhisperOptions.safety_lead,
`bench safety`): of the two, a missed "sharp" costs more than a false one.

tests/audio/safety_below/: the Piper voice's "sharp" in room noise, which tiny.en ranks
"short" (hold shorter) first with "sharp" close behind (so on three sets of int8 kernels:
this CPU's, MKL at AVX-512, oneDNN at AVX2); and espeak-ng's "short" in its four voices,
which must stay "short"."""

from __future__ import annotations


from companion.hearing.files import recognize_file
from fixture_names import AUDIO, label, options_set
from test_hearing_recognition import pytestmark, rec  # noqa: F401

HERE = AUDIO / "safety_below"


def heard(rec, vocab, name: str, lead) -> str:  # noqa: F811
    with options_set(rec, safety_lead=lead):
        return label(recognize_file(rec, vocab, HERE / name, vocab.phrases_at("session")).intent)


def test_sharp_ranked_just_under_short_stops_the_hold(rec, vocab):  # noqa: F811
    name = "safety-sharp__piper-175-10dB.wav"
    assert heard(rec, vocab, name, rec.options.safety_lead) == "safety-sharp"
    assert heard(rec, vocab, name, None) == "shorter"  # the rule is what makes it a stop


def test_short_said_stays_short(rec, vocab):  # noqa: F811
    names = sorted(p.name for p in HERE.glob("shorter__*.wav"))
    assert len(names) == 4
    assert [heard(rec, vocab, n, rec.options.safety_lead) for n in names] == ["shorter"] * 4
