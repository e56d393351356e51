"""Audio devices through PortAudio (sounddevice): listing them and finding the one a user
named, with an error that lists what is there when it is not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Union

from companion.core.errors import CompanionError

Kind = Literal["input", "output"]


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: float
    host_api: str


def _sd():
    try:
        import sounddevice
    except OSError as e:  # PortAudio library missing
        raise CompanionError(f"PortAudio is not installed ({e}); install it with "
                             "`sudo apt install libportaudio2`") from None
    return sounddevice


def list_devices() -> list[DeviceInfo]:
    sd = _sd()
    apis = sd.query_hostapis()
    return [DeviceInfo(i, d["name"], d["max_input_channels"], d["max_output_channels"],
                       d["default_samplerate"], apis[d["hostapi"]]["name"])
            for i, d in enumerate(sd.query_devices())]


def describe(kind: Kind) -> str:
    """The devices of one kind, one per line, for error messages and `companion devices`."""
    devs = [d for d in list_devices() if (d.inputs if kind == "input" else d.outputs) > 0]
    if not devs:
        return f"  (no {kind} devices at all)"
    return "\n".join(f"  [{d.index}] {d.name} ({d.default_rate:.0f} Hz)" for d in devs)


def find_device(spec: Union[int, str, None], kind: Kind) -> Optional[int]:
    """The PortAudio index for a device given by index or (part of its) name; None means
    the system default. Raises CompanionError listing the devices that do exist."""
    sd = _sd()
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    if spec is None or spec == "":
        try:
            default = sd.query_devices(kind=kind)
        except Exception:  # sounddevice raises PortAudioError with no default device
            default = None
        if not default or default[channels] < 1:
            raise CompanionError(f"no default {kind} device. {_here(kind)}"
                                 f"Plug one in or set {kind}_device in config.toml.")
        return None
    devices = sd.query_devices()
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        i = int(spec)
        if 0 <= i < len(devices) and devices[i][channels] > 0:
            return i
    else:
        matches = [i for i, d in enumerate(devices)
                   if spec.lower() in d["name"].lower() and d[channels] > 0]
        if matches:
            return matches[0]
    raise CompanionError(f"no {kind} device '{spec}'. {_here(kind)}".rstrip())


def _here(kind: Kind) -> str:
    """What an error should list: the devices of that kind, or that there are none."""
    listed = describe(kind)
    if listed.strip().startswith("(no "):
        what = "microphone" if kind == "input" else "speaker"
        return f"PortAudio sees no {kind} device at all (no sound card or USB {what}). "
    return f"Devices here:\n{listed}\n"
