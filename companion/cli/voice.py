"""`companion voice`: which voice speaks, and `voice prepare`, which renders every line the
routines and the voice lesson say into the cue cache ahead of time (setup runs it), so no
session or lesson waits."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, TextIO

from companion.host import config, paths
from companion.loop.warmup import all_lines, uncached, warm


def register(sub, common) -> None:
    p = sub.add_parser("voice", parents=[common], help="the voice in effect; render every cue "
                                                       "ahead of time")
    vsub = p.add_subparsers(dest="voice_action", metavar="ACTION")
    q = vsub.add_parser("prepare", parents=[common],
                        help="render every line of every routine and of the voice lesson "
                             "into the cue cache now")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    for parser in (p, q):
        parser.add_argument("--config", metavar="FILE", help="config file")
        parser.add_argument("--voice-engine", choices=config.VOICE_ENGINES, default=None)
        parser.add_argument("--voice", default=None)
    q.set_defaults(func=prepare)
    p.set_defaults(func=show)


def show(args: argparse.Namespace) -> int:
    from companion.speech import piper_voice, renderer_for
    from companion.speech.loudness import Loudness

    cfg = config.effective(args)
    renderer = renderer_for(cfg)  # only looks into the cache
    lines = all_lines(cfg.hold_step_s)
    ready = len(lines) - len(uncached(renderer, lines))
    print(f"voice: {renderer.engine_name} {renderer.voice or ''} ({renderer.engine_version}), "
          f"{renderer.rate} words a minute")
    why = piper_voice.missing()
    print(f"piper: {'installed' if why is None else why}")
    db = Loudness.load(paths.loudness(cfg.data_dir), save=False).db
    print(f"loudness: volume {cfg.volume:g} (config), {db:+g} dB as last asked by voice "
          '("louder", "quieter")')
    print(f"cue cache: {ready} of {len(lines)} lines (routines, answers, voice lesson) rendered in "
          f"{renderer.dir}"
          + ("" if ready == len(lines) else "; `companion voice prepare` renders the rest"))
    return 0


def prepare(args: argparse.Namespace) -> int:
    from companion.speech import renderer_for

    # Nothing else runs meanwhile (setup, or the service stopped): every core may render.
    cfg = config.effective(args)
    renderer = renderer_for(cfg, threads=os.cpu_count() or 1)
    lines = all_lines(cfg.hold_step_s)
    bar = None if args.quiet or not sys.stderr.isatty() else progress_bar(sys.stderr)
    t0 = time.monotonic()
    done = warm(renderer, lines, bar)
    print(f"voice prepare: {len(lines)} lines ready for {renderer.engine_name} "
          f"{renderer.voice or ''} ({done} rendered now, {time.monotonic() - t0:.0f} s)")
    return 0


def progress_bar(out: TextIO, width: int = 30) -> Callable[[int, int], None]:
    def show(i: int, n: int) -> None:
        filled = width * i // max(1, n)
        out.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {i}/{n} cues")
        if i == n:
            out.write("\n")
        out.flush()
    return show
