"""How the voicing and alignment stages share their jobs out over worker processes ("lanes")."""

from __future__ import annotations

import itertools
import os

import pytest

from podforge._workers import BATCH, Backlog, lanes, pool_size
from podforge.voices.registry import engine_cost, load_engine


def _cost(job: tuple[str, int]) -> float:
    return job[1] * engine_cost(f"{job[0]}:x")


def _summary(result: list) -> list[tuple[set[str], float]]:
    return [({job[0] for _, job in lane}, sum(_cost(job) for _, job in lane)) for lane in result]


def test_a_slow_engine_is_split_over_both_lanes_and_the_loads_balance():
    jobs = {f"p{i}": ("piper", 100) for i in range(10)} | {f"h{i}": ("hibari", 100) for i in range(10)}
    result = _summary(lanes(jobs, 2, lambda job: job[0], _cost))
    assert len(result) == 2 and all("piper" in engines for engines, _ in result)
    weights = [weight for _, weight in result]
    assert max(weights) / min(weights) < 1.3  # one lane with all of piper would be 9000 against 1000


def test_engines_of_equal_cost_keep_a_lane_each():
    jobs = {f"a{i}": ("hibari", 50) for i in range(6)} | {f"b{i}": ("fake", 50) for i in range(6)}
    assert sorted(sorted(engines) for engines, _ in _summary(lanes(jobs, 2, lambda job: job[0], _cost))) == [
        ["fake"], ["hibari"]]  # fmt: skip


def test_one_engine_fills_every_lane_and_never_more_lanes_than_jobs():
    assert len(lanes({f"a{i}": ("hibari", i + 1) for i in range(7)}, 3, lambda job: "x", _cost)) == 3
    assert len(lanes({"a": ("piper", 10)}, 4, lambda job: "x", _cost)) == 1


def test_piper_runs_on_one_thread_that_does_not_spin():
    pytest.importorskip("piper")
    options = load_engine("piper:joe").voice.session.get_session_options()  # type: ignore[attr-defined]
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert not options.enable_mem_pattern  # a pattern per sentence length: a lane grew ~90 MB in 60 lines


def _engines_held_after(batches: list[list[str]], cache_root: str) -> list[int]:
    from podforge.voices import synth
    from podforge.voices.registry import load_engine

    held = []
    for voices in batches:
        requests = [(f"k{i}{voice}", synth.ClipRequest(voice, "A line to voice.")) for i, voice in enumerate(voices)]
        synth._synthesize_batch(requests, cache_root, 24_000)
        held.append(load_engine.cache_info().currsize)
    return held


def test_a_lane_lets_go_of_one_engine_before_it_loads_the_next(tmp_path):
    import multiprocessing

    batches = [["fake:a", "fake:a"], ["fake:a"], ["fake:b"], ["fake:b", "fake:c"]]
    with multiprocessing.get_context("forkserver").Pool(1) as lane:  # a lane process, as run_in_lanes starts
        held = lane.apply(_engines_held_after, (batches, str(tmp_path)))
    assert held == [1, 1, 1, 2]  # a batch that spans two voices holds both until the next batch


def _modules_after_voicing(voice: str, cache_root: str) -> list[str]:
    import sys

    from podforge.voices import synth

    synth._synthesize_batch([("k", synth.ClipRequest(voice, "A line to voice, then one more."))], cache_root, 48_000)
    packages = ("scipy", "av", "pydantic", "yaml")
    stages = ("podforge.visuals", "podforge.video", "podforge.audio.mix", "podforge.audio.master")
    return sorted(m for m in sys.modules if m.partition(".")[0] in packages or m.startswith(stages))


@pytest.mark.parametrize("voice", ["piper:joe", "fake:a"])
def test_a_lane_imports_only_what_synthesis_needs(tmp_path, voice):
    """Each lane is a process of its own: what it imports, it holds (scipy.signal alone was ~50 MB a lane)."""
    import multiprocessing

    if voice.startswith("piper"):
        pytest.importorskip("piper")
    with multiprocessing.get_context("forkserver").Pool(1) as lane:
        assert lane.apply(_modules_after_voicing, (voice, str(tmp_path))) == []


def _drain(backlog: Backlog) -> list[list]:
    """Every batch handed out, two lanes asking in turn; a lane gets nothing only once nothing is left."""
    handed = []
    for lane in itertools.cycle((0, 1)):
        if not (batch := backlog.next(lane)):
            return handed
        handed.append(batch)
    raise AssertionError("unreachable")


def test_every_job_is_handed_out_once_in_batches_of_one_engine():
    jobs = {f"p{i}": ("piper", 100) for i in range(9)} | {f"h{i}": ("hibari", 100) for i in range(9)}
    shares = lanes(jobs, 2, lambda job: job[0], _cost)
    handed = _drain(Backlog(shares, lambda job: job[0], _cost))
    keys = [key for batch in handed for key, _ in batch]
    assert sorted(keys) == sorted(jobs) and len(keys) == len(jobs)
    assert all(len({job[0] for _, job in batch}) == 1 and 0 < len(batch) <= BATCH for batch in handed)


def test_a_lane_that_runs_out_takes_the_end_of_the_lane_with_most_left():
    shares = [[(f"a{i}", ("hibari", 10)) for i in range(2)], [(f"b{i}", ("piper", 100)) for i in range(12)]]
    backlog = Backlog(shares, lambda job: job[0], _cost)
    assert [key for key, _ in backlog.next(0)] == ["a0", "a1"]  # its own share first
    # no more than the work left over twice the lanes: 12 lines of 900 left, so 3 of them
    assert [key for key, _ in backlog.next(1)] == ["b0", "b1", "b2"]
    assert [key for key, _ in backlog.next(0)] == ["b10", "b11"]  # the other lane's last lines, in their order
    assert [key for key, _ in backlog.next(1)] == ["b3"]  # while that one goes on from its first


def test_batches_shrink_as_the_work_runs_out():
    shares = [[(f"a{i}", ("hibari", 10)) for i in range(40)], [(f"b{i}", ("hibari", 10)) for i in range(40)]]
    sizes = [len(batch) for batch in _drain(Backlog(shares, lambda job: job[0], _cost))]
    assert sizes[0] == BATCH and sizes[-1] == 1 and sum(sizes) == 80


def _peak_mb_after_voicing(text: str, cache_root: str) -> float:
    import resource

    from podforge.voices import synth

    synth._synthesize_batch([("k", synth.ClipRequest("piper:joe", text))], cache_root, 48_000)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_lane_voicing_a_very_long_sentence_stays_small(tmp_path):
    """onnxruntime's arena follows the longest input: 110 words in one sentence took a lane to ~800 MB whole,
    ~360 MB in clauses (voices/piper.py); 20 words take ~250 MB."""
    import multiprocessing

    pytest.importorskip("piper")
    base = "the host explains the plan and the guest replies with a story about the old machines in the workshop"
    text = " ".join((base.split() * 6)[:110]) + "."
    with multiprocessing.get_context("forkserver").Pool(1) as lane:
        assert lane.apply(_peak_mb_after_voicing, (text, str(tmp_path))) < 500


def test_pool_size_is_the_setting_or_the_cores_never_more_than_the_work() -> None:
    assert pool_size(0) == (os.cpu_count() or 1)
    assert pool_size(3) == 3 and pool_size(3, 2) == 2 and pool_size(0, 1) == 1
    assert pool_size(0, 0) == 1  # at least one
