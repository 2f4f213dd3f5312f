"""Publishing speed: a show of N generated two-host episodes, built cold, then published again unchanged.

Prints the wall time of each publish and the ratio warm/cold: the cost of rendering every episode through
the cache on every publish (the design choice in podforge.feed.build) instead of skipping unchanged ones.
    .venv/bin/python bench/publish.py [--episodes 3] [--minutes 1] [--engine hibari]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

SHOW = """\
title: Bench Show
author: Bench Hosts
email: bench@example.com
description: Generated episodes for a benchmark.
categories: [Technology]
base_url: https://example.com/bench/
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--engine", default="hibari", help="tts_engine for every speaker (hibari, fake, …)")
    args = parser.parse_args()

    import os

    from audio import long_script

    with tempfile.TemporaryDirectory(prefix="podforge-bench-") as tmp:
        root = Path(tmp)
        os.environ["PODFORGE_CACHE_DIR"] = str(root / "cache")
        from podforge.config import RenderConfig
        from podforge.feed import PublishOptions, publish_show

        show = root / "show"
        show.mkdir()
        (show / "show.yaml").write_text(SHOW)
        for n in range(1, args.episodes + 1):
            text = long_script(args.minutes).replace("title: Bench", f"title: Bench episode {n}\nepisode: {n}", 1)
            (show / f"ep{n}.md").write_text(text.replace("Point ", f"Episode {n}, point "))
        options = PublishOptions(root / "site", config=RenderConfig(tts_engine=args.engine))
        times = []
        for label in ("cold", "warm"):
            started = time.perf_counter()
            result = publish_show(show, options)
            times.append(time.perf_counter() - started)
            audio = sum(item.seconds for item in result.items)
            print(f"{label}: {len(result.items)} episodes, {audio:.0f} s of audio, published in {times[-1]:.2f} s")
        print(f"warm/cold ratio {times[1] / times[0]:.3f}; per unchanged episode {times[1] / args.episodes:.2f} s")


if __name__ == "__main__":
    main()
