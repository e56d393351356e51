"""The device speaker on a real PortAudio device: the virtual sound card's `vspeaker`,
recorded back through its monitor. Real espeak-ng audio, real streams, no mocks."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest

import audio_env
from companion.core.errors import CompanionError
from companion.speech import CueRenderer, DeviceSpeaker, make_speaker
from companion.speech.cuefile import voiced_dbfs

LONG = ("Find the tender spot, lean into the ball, and let your weight sink in slowly "
        "while you breathe out.")
REC_RATE = 16000


@pytest.fixture(scope="module")
def sd(virtual_audio):
    import sounddevice   # only now: the sound card is up
    return sounddevice


@pytest.fixture(scope="module")
def renderer(tmp_path_factory) -> CueRenderer:
    return CueRenderer("en-us", 150, 1.0, cache_dir=tmp_path_factory.mktemp("cues"))


@pytest.fixture(scope="module")
def speaker(virtual_audio, renderer):
    sp = make_speaker(None, renderer=renderer)
    yield sp
    sp.close()


class MonitorRecorder:
    """Records what the virtual speaker plays (vspeaker.monitor), with the monotonic time
    at which each block was delivered."""

    def __init__(self, sd) -> None:
        self.blocks: list[tuple[float, np.ndarray]] = []
        self.overflows = 0
        os.environ["PIPEWIRE_NODE"] = "vspeaker"          # only while the stream opens
        os.environ["PIPEWIRE_PROPS"] = "{ stream.capture.sink=true }"
        try:
            self.stream = sd.InputStream(samplerate=REC_RATE, channels=1, dtype="float32",
                                         blocksize=160, callback=self._cb)
        finally:
            del os.environ["PIPEWIRE_NODE"], os.environ["PIPEWIRE_PROPS"]
        self.stream.start()

    def _cb(self, indata, frames, t, status) -> None:
        self.overflows += bool(status.input_overflow)
        self.blocks.append((time.monotonic(), indata[:, 0].copy()))

    def close(self) -> tuple[np.ndarray, np.ndarray]:
        """(samples, monotonic time of each sample, roughly)."""
        self.stream.abort()      # stop() can hang on a capture stream; abort() returns
        self.stream.close()
        x = np.concatenate([b for _, b in self.blocks])
        t = np.concatenate([at - (len(b) - np.arange(len(b))) / REC_RATE
                            for at, b in self.blocks])
        return x, t


class StarvationProbe:
    """Counts the times this process was not scheduled for more than 20 ms: a thread that
    sleeps 2 ms at a time and notes each late wake. On a machine that busy, a timing bound
    measures the scheduler rather than the code."""

    def __init__(self) -> None:
        import threading
        self.late = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.002):
            now = time.monotonic()
            self.late += now - last > 0.020
            last = now

    def close(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.late


def _resample_fft(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    n = int(round(len(x) * dst / src))
    spec = np.fft.rfft(x)
    out = np.zeros(n // 2 + 1, dtype=complex)
    k = min(len(out), len(spec))
    out[:k] = spec[:k]
    return np.fft.irfft(out, n) * (n / len(x))


def _ncc(rec: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """Best normalized cross-correlation of ref inside rec, and where."""
    n = 1 << int(np.ceil(np.log2(len(rec) + len(ref))))
    corr = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)
    lags = len(rec) - len(ref) + 1
    c2 = np.concatenate([[0.0], np.cumsum(rec.astype(np.float64) ** 2)])
    energy = np.sqrt(np.maximum(c2[len(ref):len(ref) + lags] - c2[:lags], 1e-20))
    ncc = corr[:lags] / (energy * np.linalg.norm(ref))
    best = int(np.argmax(ncc))
    return float(ncc[best]), best


def _rms(x: np.ndarray, t: np.ndarray, t0: float, t1: float) -> float:
    w = x[(t >= t0) & (t < t1)]
    return float(np.sqrt(np.mean(w.astype(np.float64) ** 2))) if len(w) else 0.0


def _wait_status(u, statuses, timeout=5.0) -> None:
    deadline = time.monotonic() + timeout
    while u.status not in statuses and time.monotonic() < deadline:
        time.sleep(0.005)
    assert u.status in statuses, u


def test_a_cue_played_is_what_the_speaker_hears(sd, speaker, renderer):
    cue = renderer.render("Hold here and breathe slowly.")
    rec = MonitorRecorder(sd)
    under0 = speaker.underflows
    try:
        time.sleep(0.3)
        seconds = speaker.say(cue.text)
        assert seconds == pytest.approx(cue.seconds)
        assert speaker.speaking and speaker.busy() and speaker.finished_at is None
        u = speaker.history[-1]
        assert speaker.wait(timeout=seconds + 3)
        time.sleep(0.4)
    finally:
        x, t = rec.close()
    assert u.status == "done"
    # The device played all of it. Only in real time when nothing ran late: each underrun
    # (counted, not guessed from the clock) is a gap the cue is stretched by, and on a
    # saturated machine they happen (11 seen at a load average of 8 on 2 cores).
    underruns = speaker.underflows - under0
    took = u.ended_at - u.audio_start
    assert took > seconds - 0.01
    # The recorder's own lateness counts too: a block delivered more than three blocks'
    # time after the one before means the capture stream was starved, and PipeWire does
    # not always report what it dropped as an overflow.
    late_blocks = sum(b - a > 0.03 for (a, _), (b, _) in zip(rec.blocks, rec.blocks[1:]))
    on_time = underruns == 0 and rec.overflows == 0 and late_blocks == 0
    if on_time:
        assert took < seconds + 0.3
    assert speaker.finished_at == pytest.approx(u.ended_at)
    assert speaker.busy_until() == pytest.approx(u.ended_at + speaker.tail)
    ref = _resample_fft(cue.samples().astype(np.float64) / 32768, cue.samplerate, REC_RATE)
    ncc, at = _ncc(x, ref)
    halves = [round(_ncc(x, part)[0], 3) for part in np.array_split(ref, 4)]
    gaps = np.diff(t)
    # Gaps from counted underruns cut the match; the cue must still be plainly there.
    assert ncc > (0.8 if on_time else 0.4), (f"normalized cross-correlation {ncc:.3f}, quarters {halves}; "
                       f"recorder overflows {rec.overflows}, late blocks {late_blocks}, playback underflows "
                       f"{speaker.underflows - under0}, largest gap between recorded "
                       f"samples {1000 * gaps.max():.1f} ms, samples {len(x)} over "
                       f"{t[-1] - t[0]:.2f} s")
    # It reached the speaker about when the speaker said it would: PortAudio's timing is
    # its own buffer's; the sound server and the recorder add a little.
    began, ended = t[at], t[at + len(ref) - 1]
    print(f"ncc {ncc:.3f}; monitor heard it {1000 * (began - u.audio_start):.0f} ms after "
          f"audio_start and ended {1000 * (ended - u.ended_at):.0f} ms after ended_at; "
          f"say() to first frame {1000 * (u.started_at - u.queued_at):.1f} ms; underruns "
          f"{underruns}, late recorder blocks {late_blocks}")
    if on_time:  # a late recorder or player moves what the monitor heard
        assert u.audio_start - 0.05 < began < u.audio_start + 0.3
        assert u.ended_at - 0.05 < ended < u.ended_at + 0.3


def test_a_cached_cue_starts_within_30_ms(speaker, renderer):
    """Each cue follows a stop(), as a reply follows a barge-in ("pause" -> "Paused.")."""
    renderer.prerender(["Ten seconds left.", "six, noted", "Halfway."])
    renders0, under0 = renderer.renders, speaker.underflows
    probe = StarvationProbe()
    delays = []
    for text in ("Ten seconds left.", "six, noted", "Halfway."):
        speaker.say(text)
        u = speaker.history[-1]
        _wait_status(u, ("playing", "done"))
        delays.append(u.started_at - u.queued_at)
        speaker.stop()
    assert renderer.renders == renders0      # every cue came from the cache, none waited for a render
    # A starved machine shows itself as underruns (counted by the player) or late wakes of
    # the probe; only then may the start be late, and still well under a render's time.
    late_wakes, underruns = probe.close(), speaker.underflows - under0
    starved = underruns > 0 or late_wakes > 0
    print(f"cached cue start delays {[round(1000 * d, 1) for d in delays]} ms; "
          f"underruns {underruns}, late wakes {late_wakes}")
    assert sorted(delays)[1] < (0.3 if starved else 0.030), (delays, underruns, late_wakes)


def test_cues_play_in_order_one_after_another(speaker):
    under0 = speaker.underflows
    speaker.say("Halfway.")
    speaker.say("six, noted")
    a, b = speaker.history[-2:]
    until = speaker.busy_until()
    assert until > time.monotonic() + a.seconds + b.seconds
    assert speaker.wait(timeout=a.seconds + b.seconds + 3)
    assert (a.status, b.status) == ("done", "done")
    assert b.audio_start == pytest.approx(a.ended_at, abs=0.002)
    if speaker.underflows == under0:  # underruns (counted) stretch playback past any estimate
        assert abs(speaker.busy_until() - until) < 0.15     # the estimate was close


def test_stop_cuts_a_cue_at_once(sd, speaker, renderer):
    cue = renderer.render(LONG)
    rec = MonitorRecorder(sd)
    try:
        time.sleep(0.2)
        speaker.say(LONG)
        speaker.say("Ten seconds left.")         # queued behind it: dropped too
        u, queued = speaker.history[-2:]
        _wait_status(u, ("playing",))
        time.sleep(1.0)
        t_stop = time.monotonic()
        speaker.stop()
        took = time.monotonic() - t_stop
        assert not speaker.speaking
        assert (u.status, queued.status) == ("stopped", "stopped")
        assert speaker.busy_until() <= time.monotonic() + speaker.tail + 0.05
        time.sleep(1.0)
    finally:
        x, t = rec.close()
    before = _rms(x, t, t_stop - 0.8, t_stop - 0.1)
    after = _rms(x, t, t_stop + 0.3, t_stop + 1.0)
    assert before > 0.02
    assert after < 0.02 * before, (before, after)
    # When did the sound stop? The last loud sample after stop().
    loud = np.abs(x) > 0.05 * np.abs(x[(t > t_stop - 0.8) & (t < t_stop)]).max()
    last_loud = t[np.nonzero(loud & (t < t_stop + 1.0))[0][-1]]
    print(f"stop() took {took * 1000:.1f} ms; sound at the monitor ended "
          f"{(last_loud - t_stop) * 1000:.0f} ms after stop(); cue was {cue.seconds:.1f} s")
    assert last_loud - t_stop < 0.3


def test_a_gain_plays_the_cue_that_much_quieter_or_louder(sd, speaker, renderer):
    """"quieter" / "louder" (speech.loudness) reach the device: the same cue played at 0,
    -8 and +4 dB, as the monitor heard each (+4 goes through the limiter: cues have no
    headroom, so the voice gains a little less)."""
    text = "Hold here and breathe slowly."
    renderer.render(text)
    rec = MonitorRecorder(sd)
    played = []
    try:
        time.sleep(0.3)
        for db in (0.0, -8.0, 4.0):
            speaker.gain_db = db
            speaker.say(text)
            played.append(speaker.history[-1])
            assert speaker.wait(timeout=played[-1].seconds + 3)
            time.sleep(0.3)
    finally:
        speaker.gain_db = 0.0
        x, t = rec.close()
    assert [u.status for u in played] == ["done"] * 3
    level = [voiced_dbfs(x[(t >= u.audio_start - 0.1) & (t < u.ended_at + 0.1)])
             for u in played]
    print(f"monitor levels {[round(v, 2) for v in level]} dBFS")
    # The voiced part's level: a gap from an underrun on a busy machine does not count.
    assert level[1] - level[0] == pytest.approx(-8.0, abs=1.0)
    assert 1.5 < level[2] - level[0] < 4.5



def test_a_missing_output_device_lists_the_ones_there(virtual_audio, renderer):
    with pytest.raises(CompanionError) as e:
        DeviceSpeaker("no-such-speaker", renderer=renderer)
    msg = str(e.value)
    assert "no output device 'no-such-speaker'" in msg
    assert "pipewire" in msg and "default" in msg
    with pytest.raises(CompanionError, match="no output device '97'"):
        DeviceSpeaker(97, renderer=renderer)


def test_a_device_given_by_name_or_index(virtual_audio, sd, renderer):
    index = next(i for i, d in enumerate(sd.query_devices())
                 if d["name"] == "pipewire" and d["max_output_channels"] > 0)
    for spec in ("pipewire", index, str(index)):
        with DeviceSpeaker(spec, renderer=renderer) as sp:
            assert sp.device_name == "pipewire"


def test_a_vanishing_device_is_reported_and_nothing_hangs(virtual_audio, renderer):
    # A second sound card of its own, killed mid-cue, as an unplugged speaker would be.
    va = audio_env.start()
    saved = {k: os.environ.get(k) for k in audio_env.EXPORTED}
    try:
        os.environ.update(va.env)            # the playback process connects to this one
        sp = DeviceSpeaker(None, renderer=renderer)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        sp.say(LONG)
        u = sp.history[-1]
        _wait_status(u, ("playing",))
        time.sleep(0.3)
        t_kill = time.monotonic()
        audio_env.stop(va)
        while sp.error is None and time.monotonic() < t_kill + 5:
            time.sleep(0.02)
        assert sp.error is not None, "the vanished device was not noticed"
        noticed = time.monotonic() - t_kill
        assert "stopped" in str(sp.error) or "ended" in str(sp.error)
        assert u.status == "failed"
        assert not sp.speaking and not sp.busy()
        t0 = time.monotonic()
        assert sp.say("six, noted") > 0     # does not raise, does not hang
        assert sp.history[-1].status == "failed"
        sp.stop()
        # A hang is forever; a bound near what it takes (a render, ~0.1 s) flakes when busy.
        assert time.monotonic() - t0 < 5
        print(f"noticed {noticed:.2f} s after the sound server died: {sp.error}")
        # Plugged back in (here: the session's sound card): reopen() and it plays again.
        sp.reopen()
        assert sp.error is None
        sp.say("six, noted")
        assert sp.wait(timeout=5) and sp.history[-1].status == "done"
    finally:
        t0 = time.monotonic()
        sp.close()
        assert time.monotonic() - t0 < 10   # not hung on the dead device
        assert sp._player.proc.poll() is not None
        audio_env.stop(va)


@pytest.mark.skipif(shutil.which("pw-record") is None, reason="pw-record missing (pipewire-bin)")
def test_a_card_whose_microphone_gives_nothing_is_not_taken_as_started(virtual_audio):
    """audio_env.start() checks that the card's microphone delivers frames: a card that came
    up dead once made a live test wait for a companion that could hear nothing."""
    va = audio_env.start()
    env = {**os.environ, **va.env}
    try:
        assert audio_env._microphone_flows(env)
    finally:
        audio_env.stop(va)
    assert not audio_env._microphone_flows(env)   # its server gone: nothing arrives


def test_a_configured_speaker_delay_keeps_it_busy_that_much_longer(virtual_audio, renderer):
    """speaker_delay_s (a sound server's or Bluetooth speaker's own buffering, which
    PortAudio cannot see) is added to the device's end of playback, so the companion goes on
    ignoring its own voice until the sound has really come out."""
    from companion.host.config import Config

    cue = renderer.render("Breathe out slowly.")
    with make_speaker(Config(speaker_delay_s=0.6), renderer=renderer) as sp:
        assert sp.extra_latency == 0.6
        t0 = time.monotonic()
        sp.play(cue)
        assert sp.wait(timeout=10)
        took = time.monotonic() - t0
        assert sp.busy_for() <= sp.tail
    # Plays for the cue's length, then 0.6 s more before it counts as finished.
    assert took >= cue.seconds + 0.6
