"""Rebuild the WAV fixtures in this folder (run from the repo root):

    python tests/audio/make_fixtures.py [../shared/data/speech]
    python tests/audio/make_fixtures.py --best-heard-only   (and the other --*-only folders)

Names say what a file must produce: `<intent>[-<value>]__<origin>.wav`, `none__*` for
audio that must produce no command. Recorded files are drawn with a fixed seed from the
benchmark's *test* speakers (never the dev half thresholds were tuned on); synthetic ones
are espeak-ng phrases mixed with recorded noise."""

from __future__ import annotations

import random
import shutil
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from companion.bench import synth  # noqa: E402
from companion.core.vocabulary import NUMBER_WORDS  # noqa: E402

SC = {"stop": "stop", "yes": "yes", "no": "no", "go": "resume"}
NEG = {"up": 3, "down": 3, "on": 2, "off": 2, "_unknown_": 3, "_silence_": 4}
SYNTH = [  # phrase, fixture intent label, voice, speed, SNR dB
    ("pain six", "pain-6", "en-us+m3", 150, 20), ("hold longer", "hold_longer", "en-us+f3", 175, 20),
    ("start neck routine", "start_routine-neck", "en-gb+m1", 150, 20),
    ("next", "next", "en-us+f2", 130, 10), ("how long left", "how_long", "en-us+m3", 175, 10),
    ("pause", "pause", "en-gb+m1", 175, 10), ("go back", "back", "en-us+f3", 130, 20),
    ("what's next", "whats_next", "en-us+m3", 130, 10), ("it's sharp", "safety-sharp", "en-us+f2", 150, 20),
    ("seven out of ten", "pain-7", "en-gb+m1", 130, 20), ("keep going", "resume", "en-us+f3", 150, 10),
    ("how am i doing", "how_am_i_doing", "en-us+f2", 175, 20),
]

# Talk that begins like a command and goes on as something else: must produce nothing.
TALK = [("start the kettle for me", "en-us+m3", 150), ("begin with the easy part", "en-us+f3", 130),
        ("pain in the back of the car", "en-gb+m1", 150), ("how about a walk later", "en-us+f2", 175),
        ("what a lovely morning", "en-us+m3", 130), ("start from the beginning", "en-gb+m1", 175),
        ("begin the story again", "en-us+f2", 150), ("what's for lunch today", "en-us+f3", 150)]

# said/: commands as people say them: with a word around them (vocabulary.LEADS, TRAILS),
# ratings in their own words ("about two"), a feeling in a sentence ("it feels sharp"), a
# routine started in a sentence ("start the neck routine"), and talk that starts so but says
# no command ("it feels good", "start the car").
# (phrase, fixture label, voice, speed, SNR dB, Speech Commands noise file)
SAID = [
    ("okay next", "next", "en-us+f2", 175, 10, "4223.wav"),
    ("so stop", "stop", "en-us+f3", 130, 20, "2340.wav"),
    ("okay skip this", "skip", "en-gb+m1", 130, 10, "1791.wav"),
    ("and repeat that", "repeat", "en-us+m3", 175, 10, "1292.wav"),
    ("so go back", "back", "en-us+f2", 130, 20, "4010.wav"),
    ("um pain six", "pain-6", "en-us+m3", 130, 20, "127.wav"),
    ("companion what's next", "whats_next", "en-gb+m1", 175, 20, "4742.wav"),
    ("next please", "next", "en-us+m3", 130, 20, "251.wav"),
    ("it's a four", "number-4", "en-us+f2", 130, 20, "4374.wav"),
    ("maybe five", "number-5", "en-gb+m1", 130, 20, "4534.wav"),
    ("about two", "number-2", "en-gb+m1", 130, 20, "335.wav"),
    ("around three", "number-3", "en-gb+m1", 130, 20, "861.wav"),
    ("a seven", "number-7", "en-us+m3", 130, 20, "301.wav"),
    ("maybe an eight", "number-8", "en-gb+m1", 175, 20, "4534.wav"),
    ("it feels sharp", "safety-sharp", "en-gb+m1", 130, 20, "2388.wav"),
    ("feels sharp", "safety-sharp", "en-us+f3", 175, 20, "167.wav"),
    ("it feels tingling", "safety-tingling", "en-us+f2", 130, 20, "167.wav"),
    ("it's getting numb", "safety-numb", "en-us+f3", 130, 20, "443.wav"),
    ("start the neck routine", "start_routine-neck", "en-us+f2", 130, 20, "251.wav"),
    ("let's do the neck routine", "start_routine-neck", "en-gb+m1", 130, 20, "127.wav"),
    ("start my neck routine", "start_routine-neck", "en-gb+m1", 175, 20, "861.wav"),
    ("start the lower back routine", "start_routine-lower_back", "en-us+f2", 130, 20,
     "4427.wav"),
    ("start the car", "none", "en-gb+m1", 130, 20, "3125.wav"),
    ("let's do the dishes", "none", "en-gb+m1", 175, 20, "599.wav"),
    ("it feels good", "none", "en-gb+m1", 175, 20, "3059.wav"),
    ("that feels better", "none", "en-gb+m1", 175, 20, "1212.wav"),
    ("okay then", "none", "en-us+f3", 130, 20, "3826.wav"),
    ("um let me think", "none", "en-gb+m1", 175, 20, "443.wav"),
    ("so anyway", "none", "en-us+f2", 130, 20, "1941.wav"),
    ("and then what", "none", "en-us+m3", 175, 20, "3820.wav"),
    ("the end", "none", "en-us+m3", 130, 20, "3942.wav"),
    ("maybe later", "none", "en-gb+m1", 130, 20, "2878.wav"),
    ("it's a lot", "none", "en-gb+m1", 130, 20, "3442.wav"),
    ("about time", "none", "en-gb+m1", 175, 20, "1292.wav"),
]


def speaker_of(p: Path) -> str:
    """Speech Commands names are [word_]<speaker-hash>_nohash_<n>.wav."""
    return p.name.split("_nohash")[0].split("_")[-1]


def test_split(key: str) -> bool:
    return zlib.crc32(key.encode()) % 2 == 1  # the benchmark's "test" half


def main(data: Path) -> None:
    rng = random.Random(20261122)
    for old in HERE.glob("*.wav"):
        old.unlink()
    sc = data / "speech-commands"
    for word, intent in SC.items():
        files = [p for p in sorted((sc / word).glob("*.wav"))
                 if test_split(speaker_of(p))]
        for i, p in enumerate(rng.sample(files, 4)):
            shutil.copy(p, HERE / f"{intent}__sc-{word}-{i}.wav")
    for word, n in NEG.items():
        files = [p for p in sorted((sc / word).glob("*.wav"))
                 if word == "_silence_" or test_split(speaker_of(p))]
        pick = rng.sample
        if word == "_unknown_":  # its files named six_/nine_/... are digits: not negatives
            files = [p for p in files if p.name.split("_")[0] not in NUMBER_WORDS]
            pick = random.Random(7).sample  # own stream: the other picks stay as they were
        for i, p in enumerate(pick(files, n)):
            shutil.copy(p, HERE / f"none__sc-{word.strip('_')}-{i}.wav")
    fsdd = data / "fsdd-digits"
    for d in range(10):
        speaker = "jackson" if d % 2 else "nicolas"
        takes = [p for p in sorted(fsdd.glob(f"{d}_{speaker}_*.wav"))
                 if int(p.stem.split("_")[2]) % 2 == 1]
        shutil.copy(rng.choice(takes), HERE / f"number-{d}__fsdd-{speaker}.wav")
    noises = sorted((sc / "_silence_").glob("*.wav"))
    for phrase, label, voice, speed, snr in SYNTH:
        out = HERE / f"{label}__espeak-{voice.replace('+', '-')}-{speed}-{snr}dB.wav"
        synth.make_noisy_phrase(phrase, voice, speed, rng.choice(noises), snr, out)
    make_talk(noises)


def make_talk(noises: list[Path]) -> None:
    rng = random.Random(31)  # own stream, so adding talk leaves the other picks as they were
    for text, voice, speed in TALK:
        out = HERE / f"none__talk-{'-'.join(text.replace(chr(39), '').split()[:3])}.wav"
        synth.make_noisy_phrase(text, voice, speed, rng.choice(noises), 20, out)


# stopped/: "carry on", which the companion's stop cue says takes a stop back (cues.py),
# espeak-ng over Speech Commands noise: (voice, speed, SNR dB, noise file).
CARRY_ON = [("en-us+f2", 130, 10, "2794.wav"), ("en-us+m3", 175, 20, "3551.wav"),
            ("en-gb+m1", 130, 10, "1516.wav")]


def make_stopped(noises: Path) -> None:
    folder = HERE / "stopped"
    folder.mkdir(exist_ok=True)
    for voice, speed, snr, noise in CARRY_ON:
        out = folder / f"resume__espeak-carry-on-{voice.replace('+', '-')}-{speed}-{snr}dB.wav"
        synth.make_noisy_phrase("carry on", voice, speed, noises / noise, snr, out)


def make_said(noises: Path) -> None:
    make_rendered("said", SAID, noises)


def make_rendered(name: str, rows: list, noises: Path) -> None:
    """A folder of espeak-ng phrases over Speech Commands noise, made anew from its rows:
    (phrase, fixture label, voice, speed, SNR dB, noise file)."""
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.wav"):
        old.unlink()
    for text, label, voice, speed, snr, noise in rows:
        out = folder / f"{label}__espeak-{'-'.join(text.replace(chr(39), '').split())}-" \
            f"{voice.replace('+', '-')}-{speed}-{snr}dB.wav"
        synth.make_noisy_phrase(text, voice, speed, noises / noise, snr, out)


# loudness/: "louder" and "quieter" as people ask, "longer" that must stay a hold longer, and
# talk about loudness that asks nothing; espeak-ng over Speech Commands noise, heard in a
# session: (phrase, fixture label, voice, speed, SNR dB, noise file).
LOUDNESS = [
    ("louder", "louder", "en-us+m3", 130, 10, "1746.wav"),
    ("speak up", "louder", "en-gb+m1", 175, 20, "3942.wav"),
    ("a bit louder", "louder", "en-us+f2", 175, 10, "4010.wav"),
    ("quieter", "quieter", "en-us+m3", 130, 10, "2582.wav"),
    ("too loud", "quieter", "en-us+f2", 130, 20, "3125.wav"),
    ("too loud", "quieter", "en-gb+m1", 175, 20, "4834.wav"),  # written "2 loud"
    ("volume down", "quieter", "en-gb+m1", 130, 10, "3136.wav"),
    ("longer", "hold_longer", "en-us+f2", 130, 20, "3820.wav"),
    ("hold it longer", "hold_longer", "en-gb+m1", 130, 10, "3915.wav"),
    ("it's loud in here", "none", "en-us+f2", 130, 20, "4374.wav"),
    ("the radio is too loud", "none", "en-gb+m1", 130, 10, "443.wav"),
    ("turn the music up", "none", "en-gb+m1", 175, 20, "1389.wav"),
    ("speak to you later", "none", "en-us+f2", 130, 20, "4742.wav"),
]


def make_loudness(noises: Path) -> None:
    make_rendered("loudness", LOUDNESS, noises)


# when_asked/: commands said just as "how is the pain now?" is asked, where the lift a rating
# gets made a number of them ("stop" written "It's time" became "it's ten") or left them
# unheard; espeak-ng over Speech Commands noise: (phrase, fixture label, voice, speed, SNR
# dB, noise file). The SNR is a float, as the benchmark's: with the noise file it seeds where
# the noise starts, and these are the renders found so.
WHEN_ASKED = [
    ("stop", "stop", "en-us+f2", 175, 10.0, "3820.wav"),
    ("help", "help", "en-us+f3", 130, 10.0, "1904.wav"),
    ("repeat", "repeat", "en-us+f3", 130, 10.0, "1904.wav"),
    ("repeat", "repeat", "en-us+f3", 175, 10.0, "3373.wav"),
    ("back", "back", "en-gb+m1", 130, 10.0, "1941.wav"),
    ("skip", "skip", "en-us+f2", 130, 20.0, "2281.wav"),
    ("how long", "how_long", "en-us+f3", 175, 20.0, "3373.wav"),
]


def make_when_asked(noises: Path) -> None:
    make_rendered("when_asked", WHEN_ASKED, noises)


# best_heard/: the phrases the companion teaches in place of the plain word
# (vocabulary.TAUGHT: "wait" for pause, "let's do neck" for a start), two renders of each in
# different voices, each heard at its moment: (phrase, fixture label, voice, speed, SNR dB,
# noise file). Chosen among shuffled renders as heard the same at 0.999x and 1.001x the level
# and with one bit of dither, and under three sets of int8 kernels.
BEST_HEARD = [
    ("wait", "pause", "en-us+m3", 175, 20, "2604.wav"),
    ("wait", "pause", "en-gb+m1", 175, 10, "1136.wav"),
    ("continue", "resume", "en-us+f3", 175, 20, "1420.wav"),
    ("continue", "resume", "en-us+m3", 175, 10, "1520.wav"),
    ("more time", "hold_longer", "en-gb+m1", 175, 10, "4100.wav"),
    ("more time", "hold_longer", "en-us+f2", 175, 10, "521.wav"),
    ("less time", "shorter", "en-us+f2", 130, 10, "2872.wav"),
    ("less time", "shorter", "en-gb+m1", 130, 20, "704.wav"),
    ("skip this one", "skip", "en-us+f3", 130, 10, "3269.wav"),
    ("skip this one", "skip", "en-gb+m1", 130, 20, "599.wav"),
    ("time left", "how_long", "en-us+m3", 130, 10, "2604.wav"),
    ("time left", "how_long", "en-gb+m1", 130, 20, "2982.wav"),
    ("let's do neck", "start_routine-neck", "en-us+f2", 130, 10, "3269.wav"),
    ("let's do neck", "start_routine-neck", "en-us+f3", 130, 10, "1292.wav"),
    ("let's do lower back", "start_routine-lower_back", "en-gb+m1", 130, 10, "1941.wav"),
    ("let's do lower back", "start_routine-lower_back", "en-us+f2", 130, 10, "2833.wav"),
    ("pain level six", "pain-6", "en-us+m3", 175, 20, "2604.wav"),
    ("pain level six", "pain-6", "en-gb+m1", 175, 10, "1849.wav"),
]


def make_best_heard(noises: Path) -> None:
    make_rendered("best_heard", BEST_HEARD, noises)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--best-heard-only"]:
        make_best_heard((HERE.parent.parent.parent / "shared" / "data" / "speech" /
                         "speech-commands" / "_silence_").resolve())
        sys.exit(0)
    shared = HERE.parent.parent.parent / "shared" / "data" / "speech"
    if sys.argv[1:2] == ["--loudness-only"]:
        make_loudness((shared / "speech-commands" / "_silence_").resolve())
        sys.exit(0)
    if sys.argv[1:2] == ["--when-asked-only"]:
        make_when_asked((shared / "speech-commands" / "_silence_").resolve())
        sys.exit(0)
    if sys.argv[1:2] == ["--said-only"]:
        make_said((shared / "speech-commands" / "_silence_").resolve())
        sys.exit(0)
    if sys.argv[1:2] == ["--stopped-only"]:
        make_stopped((shared / "speech-commands" / "_silence_").resolve())
        sys.exit(0)
    if sys.argv[1:2] == ["--talk-only"]:
        make_talk(sorted((HERE.parent.parent.parent / "shared" / "data" / "speech" /
                          "speech-commands" / "_silence_").glob("*.wav")))
        sys.exit(0)
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         HERE.parent.parent.parent / "shared" / "data" / "speech")
