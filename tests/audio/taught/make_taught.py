"""Rebuild the taught-voice fixtures in this folder (run from the repo root):

    python tests/audio/taught/make_taught.py [../shared/data/speech]

lesson__fsdd-nicolas.wav: FSDD's Belgian speaker saying two, three, four and six twice each
(takes 0 and 2, from the benchmark's dev half), one second apart: what `companion enroll two
three four six --takes 2` hears. The other files are his takes from the test half, named by
what they must produce once he has taught it: the first six are ones Whisper alone does not
accept after "how is the pain now?" ("Please", "both", "Oh", "All"; the "six" it takes
for three); the
untaught digits must be heard as they are without the lesson. Each is padded with half a
second of quiet, as the lesson's takes are (FSDD trims its files to the word).

shown/: more of his test-half takes of the taught digits, which the taught voice alone hears
as another taught number ("three" 17 as two, "six" 21 and 23 as three) or not at all
("three" 19, "six" 9), and the model shown his takes first (whisper_engine `_shown`) hears
right or leaves unheard, never as another number (chosen so at 0.1 % more or less level and
with dither: "three" 19 and "six" 9 and 21 are heard right so every time)."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
LESSON = [(d, t) for d in (2, 3, 4, 6) for t in (0, 2)]
HEARD = [(3, 23), (3, 39), (4, 5), (4, 7), (4, 29), (6, 19)]
UNTAUGHT = [(0, 1), (5, 1), (7, 1), (8, 1), (9, 1)]
SHOWN = [(3, 17), (3, 19), (6, 9), (6, 21), (6, 23)]


def main(data: Path) -> None:
    fsdd = data / "fsdd-digits"
    frames = []
    rate = None
    for d, t in LESSON:
        with wave.open(str(fsdd / f"{d}_nicolas_{t}.wav")) as w:
            rate = w.getframerate()
            assert w.getnchannels() == 1 and w.getsampwidth() == 2
            frames.append(w.readframes(w.getnframes()))
    assert rate is not None
    gap = b"\0\0" * rate
    with wave.open(str(HERE / "lesson__fsdd-nicolas.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(gap[: rate] + gap.join(frames) + gap)
    for d, t in HEARD:
        padded(fsdd / f"{d}_nicolas_{t}.wav", HERE / f"number-{d}__fsdd-nicolas-{t}.wav")
    for d, t in UNTAUGHT:
        padded(fsdd / f"{d}_nicolas_{t}.wav", HERE / f"untaught-{d}__fsdd-nicolas-{t}.wav")
    (HERE / "shown").mkdir(exist_ok=True)
    for d, t in SHOWN:
        padded(fsdd / f"{d}_nicolas_{t}.wav", HERE / "shown" / f"number-{d}__fsdd-nicolas-{t}.wav")


def padded(src: Path, dest: Path) -> None:
    """The take with half a second of quiet either side, as a microphone hears a word (and
    as the lesson's takes are heard): FSDD's files are trimmed to the word."""
    with wave.open(str(src)) as w:
        params, pcm = w.getparams(), w.readframes(w.getnframes())
    quiet = b"\0\0" * (params.framerate // 2)
    with wave.open(str(dest), "wb") as out:
        out.setparams(params)
        out.writeframes(quiet + pcm + quiet)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parents[3] / "shared" / "data"
              / "speech"))
