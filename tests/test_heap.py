"""_heap.trim: freed heap memory leaves the process (glibc), so long renders' workers do not keep it."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Small blocks come from malloc's heap, not from mmap; keeping every 50th pins the heap's pages so that glibc
# cannot shrink it by itself and keeps the freed ones resident until it is told to give them back.
CHURN = """
from podforge._heap import trim

def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

blocks = [bytes(1500) for _ in range(100_000)]
kept = blocks[::50]
del blocks
before = resident_mb()
trim()
print(before, resident_mb())
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_trim_hands_the_freed_heap_back() -> None:
    out = subprocess.run([sys.executable, "-c", CHURN], capture_output=True, text=True, check=True).stdout
    before, after = map(float, out.split())
    assert before > 100  # ~150 MB freed but still resident
    assert after < before - 100
