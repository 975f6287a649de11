import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from framesampler import Candidates, Context, create_sampler, list_samplers, top_n_sorted
from framesampler.candidates import Reads
from framesampler.policies.fixed import frameexit_order
from framesampler.policies.mgsampler import image_motion, motion_guided_positions

TRAINING_FREE = ["uniform", "random", "dense", "frameexit", "mgsampler", "semi_optimal_label",
                 "semi_optimal_max", "oracle"]


def make_inputs(t: int, seed: int = 0, classes: int = 4) -> tuple[Candidates, Context]:
    rng = np.random.default_rng(seed)
    candidates = Candidates.of_length(t, features=rng.random((t, 5)), pixels=rng.random((t, 4, 4, 3)))
    context = Context(frame_logits=torch.from_numpy(rng.normal(size=(t, classes)) * 3), label=1)
    return candidates, context


@settings(max_examples=60, deadline=None)
@given(t=st.integers(1, 14), n=st.integers(0, 16), seed=st.integers(0, 10**6),
       name=st.sampled_from(TRAINING_FREE), training=st.booleans())
def test_every_policy_returns_sorted_unique_in_range(t, n, seed, name, training):
    candidates, context = make_inputs(t, seed)
    picked = create_sampler(name, seed=seed, training=training).select(candidates, n, context=context)
    assert picked.dtype == np.int64
    assert np.all(np.diff(picked) > 0), "sorted and unique"
    assert picked.min(initial=0) >= 0 and picked.max(initial=0) < t
    assert len(picked) == (t if name == "dense" else min(n, t))


@pytest.mark.parametrize("name", TRAINING_FREE)
def test_edge_policy_is_explicit(name):
    candidates, context = make_inputs(5)
    sampler = create_sampler(name)
    if name != "dense":
        assert sampler.select(candidates, 0, context=context).tolist() == []
        with pytest.raises(ValueError, match="asked for 7 frames from 5 candidates"):
            sampler.select(candidates, 7, context=context, short_policy="error")
    assert sampler.select(candidates, 7, context=context).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="integer >= 0"):
        sampler.select(candidates, -1, context=context)


def test_registry_lists_and_refuses_unknown_names():
    assert set(TRAINING_FREE) <= set(list_samplers())
    with pytest.raises(ValueError, match="unknown sampler 'nope'; available: .*uniform"):
        create_sampler("nope")


def test_samplers_say_what_they_need():
    candidates = Candidates.of_length(6)
    with pytest.raises(ValueError, match="needs context.frame_logits"):
        create_sampler("semi_optimal_max").select(candidates, 2)
    with pytest.raises(ValueError, match="needs context.label"):
        create_sampler("semi_optimal_label").select(candidates, 2, context=Context(frame_logits=torch.zeros(6, 3)))
    with pytest.raises(ValueError, match="needs candidates.features"):
        create_sampler("mgsampler", motion="feature").select(candidates, 2)


@settings(max_examples=100, deadline=None)
@given(scores=st.lists(st.integers(-3, 3), min_size=1, max_size=30), n=st.integers(0, 30))
def test_top_n_equals_brute_force_with_earlier_frames_winning_ties(scores, n):
    scores = np.asarray(scores, dtype=float)
    expected = sorted(sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:n])
    assert top_n_sorted(scores, n).tolist() == expected


def test_top_n_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        top_n_sorted(np.array([1.0, np.nan]), 1)


def test_uniform_picks_segment_centres_and_jitters_in_training():
    candidates = Candidates.of_length(12)
    assert create_sampler("uniform").select(candidates, 4).tolist() == [1, 4, 7, 10]
    picks = {tuple(create_sampler("uniform", training=True, seed=s).select(candidates, 4)) for s in range(20)}
    assert len(picks) > 1 and all(p[i] // 3 == i for p in picks for i in range(4))


def test_frameexit_order_matches_the_paper_for_t10():
    assert frameexit_order(10).tolist() == [5, 0, 9, 2, 7, 4, 6, 3, 8, 1]
    assert create_sampler("frameexit").select(Candidates.of_length(10), 3).tolist() == [0, 5, 9]
    for t in range(1, 40):
        assert sorted(frameexit_order(t).tolist()) == list(range(t))


def test_mgsampler_puts_more_frames_where_motion_is():
    motion = np.r_[np.zeros(20), np.full(10, 50.0), np.full(20, 1.0)]  # frames 20..29 move a lot
    picked = motion_guided_positions(motion, 8)
    assert ((picked >= 20) & (picked < 30)).sum() >= 5
    # a static video is sampled uniformly
    assert motion_guided_positions(np.zeros(40), 4).tolist() == [5, 15, 24, 34]


def test_mgsampler_bins_on_cumulative_motion_hand_checked():
    # M = [0, 1, 1, 4, 4] with mu = 1 -> C = [0, .1, .2, .6, 1]; centres of 2 bins: .25, .75 -> frames 2, 3
    assert motion_guided_positions(np.array([0, 1, 1, 4, 4.0]), 2, mu=1.0).tolist() == [2, 3]
    # mu = 0.5: weights [0, 1, 1, 2, 2] -> C = [0, 1/6, 2/6, 4/6, 1]; centres .25, .75 -> frames 1 (or 2), 3
    assert motion_guided_positions(np.array([0, 1, 1, 4, 4.0]), 2, mu=0.5).tolist() in ([1, 3], [2, 3])


def test_mgsampler_image_and_feature_motion_agree_on_the_moving_part():
    pixels = np.zeros((30, 8, 8, 3))
    for t in range(10, 20):
        pixels[t] = np.random.default_rng(t).random((8, 8, 3)) * 255
    candidates = Candidates.of_length(30, pixels=pixels, features=pixels.reshape(30, -1))
    for motion in ("image", "feature"):
        picked = create_sampler("mgsampler", motion=motion, pairs="candidates").select(candidates, 6)
        assert ((picked >= 10) & (picked <= 20)).sum() >= 4


def test_mgsampler_reads_a_stored_image_motion_as_it_reads_the_pixels():
    pixels = np.random.default_rng(0).integers(0, 255, (24, 8, 8, 3)).astype(np.uint8)
    pixels[8:12] = 0  # a still stretch
    # auto on pixels without next_pixels: differences of consecutive candidates, what a video dataset stores
    from_pixels = create_sampler("mgsampler").select(Candidates.of_length(24, pixels=pixels), 5)
    assert from_pixels.tolist() == create_sampler("mgsampler", motion="image", pairs="candidates").select(
        Candidates.of_length(24, pixels=pixels), 5).tolist()
    features = np.random.default_rng(1).random((24, 4)).astype(np.float32)
    stored = Candidates.of_length(24, features=features, motion=image_motion(pixels))  # a video dataset's candidates
    assert create_sampler("mgsampler").select(stored, 5).tolist() == from_pixels.tolist()
    with pytest.raises(ValueError, match="needs candidates.pixels"):
        create_sampler("mgsampler", motion="image").select(Candidates.of_length(24), 5)


def test_semi_optimal_takes_top_n_of_single_frame_confidence():
    logits = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 4.0], [0.0, 1.0], [3.0, 0.0]])
    candidates, context = Candidates.of_length(5), Context(frame_logits=logits, label=1)
    assert create_sampler("semi_optimal_label").select(candidates, 2, context=context).tolist() == [2, 3]
    assert create_sampler("semi_optimal_max").select(candidates, 2, context=context).tolist() == [1, 2]


def test_pi_s_label_is_pi_o_at_one_frame_even_for_confident_frames():
    logits = torch.tensor([[25.0, 0.0], [30.0, 0.0], [0.0, 3.0]])  # p(0) = 1 - e^-25, 1 - e^-30: equal in float32
    context = Context(frame_logits=logits, label=0)
    candidates = Candidates.of_length(3)
    assert create_sampler("semi_optimal_label").select(candidates, 1, context=context).tolist() == [1]
    assert create_sampler("oracle").select(candidates, 1, context=context).tolist() == [1]


def test_mgsampler_mv_bins_the_motion_it_is_given():
    motion = np.r_[np.zeros(20), np.full(10, 50.0), np.full(20, 1.0)]
    sampler = create_sampler("mgsampler", motion="mv", test_point="centre")
    assert sampler.reads == Reads.MOTION
    chosen = sampler.select(Candidates.of_length(50, motion=motion), 8)
    np.testing.assert_array_equal(chosen, np.sort(motion_guided_positions(motion, 8)))
    with pytest.raises(ValueError, match="needs candidates.motion"):
        sampler.select(Candidates.of_length(50), 8)
    with pytest.raises(ValueError, match="unknown motion 'flow'"):
        create_sampler("mgsampler", motion="flow")


def test_decode_aware_context_moves_a_close_pick_into_a_decoded_gop_and_rules_ignore_it():
    """Scores at frames 5, 8, 15, 25 (GOPs at 0, 10, 20): top-2 is {5, 25}; frame 8 is within 0.1 of the score range of
    frame 25 and shares frame 5's GOP, so the decode-aware pick is {5, 8}. A rule (uniform) picks as before."""
    from framesampler.policies.base import Sampler

    class Fixed(Sampler):
        name = "fixed-scores"

        def scores(self, candidates, context=None):
            return np.array([1.0, 0.85, 0.0, 0.9])

    candidates = Candidates(frame_indices=np.array([5, 8, 15, 25]), num_frames=30)
    keyframes = np.array([0, 10, 20])
    assert Fixed().select(candidates, 2).tolist() == [0, 3]
    assert Fixed().select(candidates, 2, context=Context(keyframes=keyframes, decode_aware=0.1)).tolist() == [0, 1]
    assert Fixed().select(candidates, 2, context=Context(decode_aware=0.1)).tolist() == [0, 3]  # no keyframes: plain
    uniform = create_sampler("uniform")
    assert uniform.select(candidates, 2, context=Context(keyframes=keyframes, decode_aware=0.5)).tolist() == \
        uniform.select(candidates, 2).tolist()
    with pytest.raises(ValueError, match="fraction of the score range"):
        Context(decode_aware=2.0)
