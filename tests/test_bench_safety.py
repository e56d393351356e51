"""`companion bench safety`: each safety word said alone and in phrases by real espeak-ng
renders, heard by the real recognizer as during a hold, and counted."""

from __future__ import annotations

import pytest

from companion.bench import safety, synth
from command import companion
from test_hearing_recognition import pytestmark, rec  # noqa: F401

needs_espeak = pytest.mark.skipif(not synth.espeak_available(),
                                  reason="espeak-ng is not installed (apt install espeak-ng)")


@needs_espeak
def test_each_form_of_a_word_is_said_heard_and_counted(rec, vocab, tmp_path):  # noqa: F811
    said = safety.run(rec, vocab, tmp_path / "cache", [], piper=False, words=["sharp"],
                      voices=[("en-us+m3", 130)])
    assert [s.phrase for s in said] == ["sharp", "it's sharp", "that's sharp",
                                        "it's going sharp"]
    assert all(s.voice == "en-us+m3-130" and s.snr is None for s in said)
    # "it's sharp" is the form the model hears best (every render in the benchmark).
    heard = {s.phrase: s for s in said}
    assert heard["it's sharp"].stopped and heard["it's sharp"].got.value == "sharp"
    fig = safety.figures(said)
    n = sum(s.stopped for s in said)
    assert fig["all"] == {"said": 4, "heard": n, "other_command": sum(s.other_command
                                                                     for s in said),
                          "as_said": sum(s.stopped and s.got.value == "sharp" for s in said)}
    assert fig["words"]["sharp"]["forms"]["it's X"]["heard"] == 1
    assert f"{n} / 4" in safety.table(fig)
    # Rendered once: the clean renders are cached, and heard the same from the cache.
    assert len(list((tmp_path / "cache").glob("*.wav"))) == 4
    again = safety.run(rec, vocab, tmp_path / "cache", [], piper=False, words=["sharp"],
                       voices=[("en-us+m3", 130)])
    assert [(s.got, s.heard) for s in again] == [(s.got, s.heard) for s in said]


def test_an_unknown_word_is_named_with_the_safety_words():
    p = companion("bench", "safety", "--words", "sharp", "sore")
    assert p.returncode != 0
    assert "not a safety word: sore" in p.stderr and "numb" in p.stderr


@needs_espeak
def test_the_command_prints_figures_that_bench_all_reads(tmp_path):
    """Without room noise at hand it says so and hears the renders clean."""
    import json
    import os

    from companion.cli.bench import ROWS

    env = {**os.environ, "COMPANION_CACHE_DIR": str(tmp_path / "cache")}
    p = companion("bench", "safety", "--words", "sharp", "--no-piper", "--json", "--data",
                  str(tmp_path / "none"), env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "no room noise" in p.stderr
    f = json.loads(p.stdout)
    assert f["all"]["said"] == 4 * len(synth.VOICES) * len(synth.SPEEDS)
    assert set(f["words"]) == {"sharp"} and "piper" not in " ".join(f["voices"])
    assert f["all"]["heard"] >= len(synth.VOICES)  # "it's sharp": heard in every voice
    for _, read, _ in ROWS["safety words"]:
        assert str(read(f))
