"""Sound shared by hearing and speech: WAV files, resampling, PortAudio devices, and the
playback child process. Kept light: the player runs as `python -m companion.audio.player`."""
