"""One cue cache for every test that runs the companion's voice on the neck routine (the
live loop's runs, its own voice looped into the microphone, a replay spoken by Piper):
Piper renders each line once a test run, not once a test. On a busy 2-core machine a cold
cache kept a run from its first step for over a minute (Ctrl-C's test timed out there), and
every cold live run paid 20-60 s for it. Rendering into a cold cache is tested on its own
(test_warm_up; setup's `voice prepare` in test_install and test_speech_voices).

Made at import, as the live loop's session WAV is planned with its cues; removed when pytest
exits, also when the modules were skipped, rather than left in /tmp by every run."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

CUE_CACHE = Path(tempfile.mkdtemp(prefix="companion-test-cues-"))
atexit.register(shutil.rmtree, CUE_CACHE, ignore_errors=True)
