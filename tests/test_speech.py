"""Speech without a sound card: real espeak-ng rendering and its cache, the file speaker
that replays write into, the null speaker, and the factory that picks among them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from companion.core.clock import ManualClock
from companion.core.errors import CompanionError
from companion.host.config import Config
from companion.speech import (CueRenderer, FileSpeaker, NullSpeaker, Speaker, make_speaker,
                              read_wav)

CUE = "Hold here and breathe slowly."


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cues")


@pytest.fixture(scope="module")
def renderer(cache) -> CueRenderer:
    return CueRenderer("en-us", 150, 1.0, cache_dir=cache)


# ----- rendering -------------------------------------------------------------------------

def test_render_gives_non_silent_16_bit_speech_of_plausible_length(renderer):
    cue = renderer.render(CUE)
    with wave.open(str(cue.path), "rb") as w:
        assert (w.getsampwidth(), w.getnchannels(), w.getframerate()) == (2, 1, 22050)
    x, rate = read_wav(cue.path)
    assert len(x) == cue.frames
    assert 1.0 < cue.seconds < 4.5        # five words at 150 words a minute
    assert np.abs(x).max() > 5000
    assert np.sqrt(np.mean(x.astype(float) ** 2)) > 500
    # Speech, not a tone: the level moves between syllables.
    frames = x[: len(x) // 441 * 441].reshape(-1, 441).astype(float)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    assert (rms < 0.1 * rms.max()).sum() >= 3 and (rms > 0.3 * rms.max()).sum() >= 10
    # espeak-ng's silence is trimmed: heard at once, and the mic is not gated for nothing.
    loud = np.nonzero(np.abs(x) > 0.02 * np.abs(x).max())[0]
    assert loud[0] / rate < 0.02 and (len(x) - loud[-1]) / rate < 0.2


def test_cache_hit_returns_the_same_file_without_rendering_again(renderer, cache):
    first = renderer.render("six, noted")
    renders, mtime = renderer.renders, first.path.stat().st_mtime_ns
    again = renderer.render("six, noted")
    assert again == first
    assert renderer.renders == renders
    assert first.path.stat().st_mtime_ns == mtime
    # A new renderer (a later run) finds it too.
    later = CueRenderer("en-us", 150, 1.0, cache_dir=cache)
    assert later.is_cached("six, noted")
    assert later.render("six, noted").path == first.path and later.renders == 0
    assert later.hits == 1


def test_voice_rate_and_volume_each_change_the_cache_key(renderer, cache):
    others = [CueRenderer("en-gb", 150, 1.0, cache_dir=cache),
              CueRenderer("en-us", 200, 1.0, cache_dir=cache),
              CueRenderer("en-us", 150, 0.5, cache_dir=cache)]
    keys = {renderer.key(CUE)} | {r.key(CUE) for r in others}
    assert len(keys) == 4
    assert renderer.key("ten seconds left") != renderer.key(CUE)
    base = renderer.render(CUE)
    gb, fast, quiet = (r.render(CUE) for r in others)
    assert fast.seconds < base.seconds * 0.85
    assert np.abs(quiet.samples()).max() < 0.7 * np.abs(base.samples()).max()
    assert not np.array_equal(gb.samples()[:20000], base.samples()[:20000])


def test_prerender_warms_the_cache_and_leaves_no_temporary_files(tmp_path):
    r = CueRenderer(cache_dir=tmp_path)
    texts = ["Halfway.", "Ten seconds left.", "Halfway.", "One, noted.", "Two, noted."]
    cues = r.prerender(texts)
    assert len(cues) == 4 and r.renders == 4
    assert all(r.is_cached(t) for t in texts)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.path.name for c in cues)


def test_a_line_whose_clauses_are_cached_is_said_as_them_without_rendering(tmp_path):
    """ "How long left" is rendered ahead in parts; the answer is those parts' audio one after
    the other, found in milliseconds, not a render (a Piper voice loaded while a user waits)."""
    from companion.core import cues

    r = CueRenderer(cache_dir=tmp_path)
    parts = cues.how_long_parts(47, 660)
    r.prerender(parts)
    assert r.renders == 2
    cue = r.render(cues.how_long(47, 660))
    assert (r.renders, r.joins) == (2, 1)
    assert cue.path.parent == tmp_path / "joined" and cue.samplerate == r.samplerate
    want = np.concatenate([r.render(p).samples() for p in parts])
    assert np.array_equal(cue.samples(), want) and cue.frames == len(want)
    assert oct(cue.path.stat().st_mode & 0o777) == "0o600"
    # A clause not cached: the whole line is rendered, as before.
    other = "About 45 seconds left in this step, and about 99 minutes in the session."
    assert r.render(other).path.parent == tmp_path and (r.renders, r.joins) == (3, 1)
    # Rendering ahead (prerender, warm-up) renders whole lines, never joins.
    r.prerender([cues.how_long(47, 480)])
    assert (r.renders, r.joins) == (4, 1)


def test_joined_lines_keep_only_the_newest(tmp_path):
    from companion.core import cues
    from companion.speech.render import JOINED_KEEP

    r = CueRenderer(cache_dir=tmp_path, engine="espeak-ng")
    minutes = range(1, JOINED_KEEP + 6)   # each a different answer
    r.prerender([cues.how_long_parts(5, 0)[0]] + [cues.how_long_parts(0, m * 60)[1]
                                                  for m in minutes])
    said = [r.render(cues.how_long(5, m * 60)) for m in minutes]
    assert r.joins == JOINED_KEEP + 5
    assert sorted((tmp_path / "joined").iterdir()) == sorted(c.path for c in said[5:])
    assert said[-1].path.is_file() and not said[0].path.exists()


def test_renders_from_several_threads_at_once_all_complete(tmp_path):
    r = CueRenderer(cache_dir=tmp_path)
    texts = [f"{n} seconds left." for n in (5, 6, 7, 8)] * 2
    out, errors = {}, []

    def go(t):
        try:
            out.setdefault(t, []).append(r.render(t))
        except Exception as e:   # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=go, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    for cues in out.values():
        assert len({c.path for c in cues}) == 1 and cues[0].frames > 10000
    assert len(list(tmp_path.iterdir())) == 4      # no .tmp files left behind


def test_unknown_voice_is_a_clear_error(tmp_path):
    with pytest.raises(CompanionError, match="no voice 'xx-nope'.*espeak-ng --voices"):
        CueRenderer("xx-nope", cache_dir=tmp_path).render("Hello.")
    assert list(tmp_path.iterdir()) == []


def test_the_espeak_ng_command_renders_the_same_speech(tmp_path, renderer):
    cli = CueRenderer("en-us", 150, 1.0, cache_dir=tmp_path, engine="espeak-ng")
    assert cli.key(CUE) != renderer.key(CUE)          # another engine, another file
    a, b = cli.render(CUE), renderer.render(CUE)
    assert abs(a.seconds - b.seconds) < 0.1


@pytest.mark.parametrize("auto_gave_up", [False, True])
def test_espeak_is_never_told_the_text_is_longer_than_it_is(tmp_path, monkeypatch, auto_gave_up):
    """pyttsx3 hands espeak_Synth ten times the text's length, and espeak-ng's asynchronous
    mode copies that many bytes: past the end of the text (a test run crashed so). Every
    call that reaches the real library must claim the text's bytes and its NUL, no more."""
    from pyttsx3.drivers import _espeak

    real, sizes = _espeak.cSynth, []

    def reaching_the_library(text, size, *rest):
        sizes.append((len(text), size))
        return real(text, size, *rest)

    monkeypatch.setattr(_espeak, "cSynth", reaching_the_library)
    # The fault a busy run can leave: an "auto" render timed out earlier in the process
    # and went to the command line for the rest of it. "pyttsx3" has no fallback, so it is
    # still pyttsx3 that renders (this test once saw no call after such a run).
    from companion.speech.espeak_voice import _Pyttsx3Thread
    monkeypatch.setattr(_Pyttsx3Thread.get(), "broken", auto_gave_up)
    cue = CueRenderer("en-us", 150, 1.0, cache_dir=tmp_path,
                      engine="pyttsx3").render("Ease off: tingling means stop pressing.")
    assert cue.seconds > 1.0
    assert sizes and all(size == n + 1 for n, size in sizes)


def test_missing_espeak_ng_says_how_to_install_it(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path), "COMPANION_CACHE_DIR": str(tmp_path)}
    code = ("from companion.core.errors import CompanionError\n"
            "from companion.speech import CueRenderer\n"
            "try:\n"
            "    CueRenderer(engine='{}').render('Hi.')\n"
            "except CompanionError as e:\n"
            "    print('CompanionError:', e)\n")
    for engine in ("espeak-ng", "auto"):
        r = subprocess.run([sys.executable, "-c", code.format(engine)], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.stdout.startswith("CompanionError: espeak-ng is not installed"), r.stderr
        assert "sudo apt install espeak-ng" in r.stdout


def test_bad_rate_or_volume_is_refused(tmp_path):
    with pytest.raises(CompanionError, match="rate"):
        CueRenderer(rate=20, cache_dir=tmp_path)
    with pytest.raises(CompanionError, match="volume"):
        CueRenderer(volume=3.0, cache_dir=tmp_path)


def test_importing_speech_loads_neither_sounddevice_nor_pyttsx3():
    # PortAudio lists devices once, at import: the loop must be free to start audio first.
    code = ("import sys, companion.speech; "
            "print(sorted(m for m in ('sounddevice', 'pyttsx3') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


# ----- the file speaker ------------------------------------------------------------------

def _read(path):
    x, rate = read_wav(path)
    assert rate == 22050
    return x


def test_file_speaker_places_cues_at_their_audio_times(tmp_path, renderer):
    out = tmp_path / "said.wav"
    sp = FileSpeaker(out, renderer=renderer)
    a, b = renderer.render("six, noted"), renderer.render("Ten seconds left.")
    assert sp.say("six, noted", at=1.0) == pytest.approx(a.seconds)
    assert sp.say("Ten seconds left.", at=4.0) == pytest.approx(b.seconds)
    assert not out.exists()                  # appears whole, at close
    sp.close(at=7.0)
    x = _read(out)
    assert len(x) == 7 * 22050
    s1, s2 = 22050, 4 * 22050
    assert not x[:s1].any()
    assert np.array_equal(x[s1:s1 + a.frames], a.samples())
    assert not x[s1 + a.frames:s2].any()
    assert np.array_equal(x[s2:s2 + b.frames], b.samples())
    assert not x[s2 + b.frames:].any()
    h = sp.history
    assert [(u.text, u.audio_start, u.status) for u in h] == [
        ("six, noted", 1.0, "placed"), ("Ten seconds left.", 4.0, "placed")]
    assert h[1].ended_at == pytest.approx(4.0 + b.seconds)


def test_file_speaker_queues_a_cue_said_while_another_plays(tmp_path, renderer):
    out = tmp_path / "q.wav"
    a, b = renderer.render(CUE), renderer.render("six, noted")
    with FileSpeaker(out, renderer=renderer, tail=0.25) as sp:
        sp.say(CUE, at=0.5)
        sp.say("six, noted", at=1.0)
        assert sp.busy_until() == pytest.approx(0.5 + a.seconds + b.seconds + 0.25, abs=1e-3)
    x = _read(out)
    start_b = int(round(0.5 * 22050)) + a.frames
    assert np.array_equal(x[start_b:start_b + b.frames], b.samples())
    assert sp.history[1].audio_start == pytest.approx(0.5 + a.seconds, abs=1e-4)


def test_file_speaker_stop_cuts_the_cue_and_drops_the_queue(tmp_path, renderer):
    clock = ManualClock()
    out = tmp_path / "cut.wav"
    sp = FileSpeaker(out, renderer=renderer, clock=clock, tail=0.25)
    clock.set(0.5)
    sp.say(CUE)
    sp.say("six, noted")
    clock.set(1.2)
    assert sp.busy()
    sp.stop()                                # barge-in at 1.2 s
    assert sp.busy_until() == pytest.approx(1.2 + 0.25)
    clock.set(1.5)
    assert not sp.busy()
    sp.say("Ten seconds left.")              # after the stop: starts at 1.5
    clock.set(5.0)
    sp.close()
    x = _read(out)
    cue, ten = renderer.render(CUE), renderer.render("Ten seconds left.")
    s0, cut, s2 = int(0.5 * 22050), int(1.2 * 22050), int(1.5 * 22050)
    assert np.array_equal(x[s0:cut], cue.samples()[:cut - s0])
    assert not x[cut:s2].any()
    assert np.array_equal(x[s2:s2 + ten.frames], ten.samples())
    assert len(x) == 5 * 22050
    h = sp.history
    assert [u.status for u in h] == ["stopped", "stopped", "placed"]
    assert h[0].ended_at == pytest.approx(1.2) and h[1].audio_start is None


def test_file_speaker_at_another_sample_rate(tmp_path, renderer):
    out = tmp_path / "16k.wav"
    with FileSpeaker(out, renderer=renderer, samplerate=16000) as sp:
        seconds = sp.say("six, noted", at=0.25)
    x, rate = read_wav(out)
    assert rate == 16000
    assert not x[:4000].any() and np.abs(x[4000:]).max() > 5000
    assert len(x) == pytest.approx(4000 + seconds * 16000, abs=2)


# ----- the null speaker and the factory --------------------------------------------------

def test_null_speaker_records_what_would_be_said_and_when():
    clock = ManualClock(3.0)
    sp = NullSpeaker(clock=clock)
    assert sp.say("Halfway.") == 0.0
    assert sp.say("Ten seconds left.", at=7.5) == 0.0
    sp.stop()
    assert not sp.busy()
    assert [(u.text, u.queued_at, u.status) for u in sp.history] == [
        ("Halfway.", 3.0, "silent"), ("Ten seconds left.", 7.5, "silent")]
    sp.close()


def _Cfg() -> Config:
    return Config(voice_engine="pyttsx3", voice="en-us", rate=170, volume=0.9)


def test_make_speaker_chooses_null_or_file(tmp_path):
    sp = make_speaker(_Cfg(), no_speaker=True, speaker_file=tmp_path / "x.wav")
    assert isinstance(sp, NullSpeaker) and isinstance(sp, Speaker)
    fs = make_speaker(_Cfg(), speaker_file=tmp_path / "x.wav", cache_dir=tmp_path / "c")
    assert isinstance(fs, FileSpeaker) and isinstance(fs, Speaker)
    assert (fs.renderer.voice, fs.renderer.rate, fs.renderer.volume) == ("en-us", 170, 0.9)
    fs.say("Halfway.", at=0.0)
    fs.close()
    assert (tmp_path / "x.wav").exists()


def test_the_cue_cache_is_private(tmp_path):
    """Cached cues can be personal (the spoken pain summary): folder 0700, files 0600, even
    under a permissive umask and in a folder that existed with looser rights."""
    import stat

    from companion.speech.render import CueRenderer

    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    cache.chmod(0o755)
    old = os.umask(0)
    try:
        cue = CueRenderer(cache_dir=cache).render("Neck: from seven to four over ten days.")
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(cue.path).stat().st_mode) == 0o600
