"""companion: an offline, voice-guided session companion for trigger-point self-massage."""

__version__ = "0.1.0"
