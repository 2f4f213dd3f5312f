"""Synthesis speed of derived voices against their base voice: realtime factor (synthesis seconds / audio seconds).

For each bundled voice, the same sentences are voiced plain and as each casting variant (voices/derive.py), one
warm engine in this process, best of ``--repeats``; the ratio derived / base is what the derivation costs. Time
is this process's CPU time (all its threads), so other work on a shared machine does not skew the ratio;
``--wall`` uses wall-clock time instead.
hibari's variants are made on its own vocoder parameters; piper's through WORLD (YIN + StoneMask, CheapTrick,
D4C; voices/derive.py, voices/pitch.py).
    .venv/bin/python bench/voices.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from podforge.voices.derive import FEMALE_ORDER, MALE_ORDER, variant
from podforge.voices.registry import ENGINES
from podforge.voices.synth import ClipRequest, synthesize_clip

RATE = 48_000
TEXT = (
    "Welcome back to the show. Today we talk about tiny machines that fit in a pocket, "
    "what they cost to run, and why the batteries last longer than anyone expected. "
    "Our guest has built three of them at home, and she brought one along."
)


def rtf(request: ClipRequest, repeats: int, clock: Callable[[], float]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        clip = synthesize_clip(request, RATE)
        best = min(best, clock() - start)
    return best / (clip.shape[0] / RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    args = parser.parse_args()
    clock = time.perf_counter if args.wall else time.process_time
    print(f"{'voice':24} {'rtf':>8} {'x base':>7}")
    for base, order in (("hibari:heart", FEMALE_ORDER), ("piper:joe", MALE_ORDER)):
        if not ENGINES[base.split(":")[0]].installed():
            print(f"{base:24} not installed")
            continue
        synthesize_clip(ClipRequest(base, "Warm up."), RATE)  # load the model outside the timing
        plain = rtf(ClipRequest(base, TEXT), args.repeats, clock)
        print(f"{base:24} {plain:8.4f} {1.0:7.2f}")
        for name in order:
            derivation = variant(name)
            assert derivation is not None
            request = ClipRequest(base, TEXT, pitch=derivation.pitch, formant=derivation.formant)
            derived = rtf(request, args.repeats, clock)
            print(f"{base + '~' + name:24} {derived:8.4f} {derived / plain:7.2f}")


if __name__ == "__main__":
    main()
