"""MGSampler's motion (Zhi et al. 2021, Eqs. 1-3 and the official code's 1 - SSIM) on hand-made frames."""
import numpy as np
import pytest
import torch

from framesampler import Candidates, create_sampler
from framesampler.candidates import Reads
from framesampler.policies.mgsampler import (
    conv_difference,
    grayscale,
    image_difference,
    shallow_conv,
    ssim,
    ssim_difference,
)


def test_eq1_image_difference_sums_absolute_pixel_changes():
    frames = np.array([[[[0, 0, 0], [10, 0, 0]]], [[[5, 5, 5], [5, 5, 5]]]], dtype=np.uint8)  # [2, 1, 2, 3]
    following = np.array([[[[0, 0, 0], [0, 0, 4]]], [[[5, 5, 5], [5, 5, 5]]]], dtype=np.uint8)
    assert image_difference(frames, following).tolist() == [14.0, 0.0]  # |0-10| + |4-0|; no change


def test_ssim_on_flat_frames_by_hand_and_its_difference():
    a, b = np.full((7, 7), 10, np.uint8), np.full((7, 7), 20, np.uint8)
    c1 = (0.01 * 255) ** 2  # no variance: SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1)
    assert ssim(a, b) == pytest.approx((400 + c1) / (500 + c1))
    frame = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    assert ssim_difference(frame, frame).tolist() == pytest.approx([0.0, 0.0])
    noisy = np.clip(frame.astype(int) + np.random.default_rng(1).integers(-40, 40, frame.shape), 0, 255).astype(np.uint8)
    assert (ssim_difference(frame, noisy) > 0.02).all()
    assert grayscale(np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)).tolist() == [76, 150, 29]
    with pytest.raises(ValueError, match="at least 7x7"):
        ssim(np.zeros((5, 9)), np.zeros((5, 9)))


def test_eq2_3_feature_difference_is_the_per_pixel_channel_l2_summed():
    conv = shallow_conv(0)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding) == (3, 8, (7, 7), (1, 1), (3, 3))
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.fill_(7.0)  # cancels in the difference
        conv.weight[0, 0, 3, 3] = 1.0  # F_0 = R
        conv.weight[1, 1, 3, 3] = 1.0  # F_1 = G
    frames = np.zeros((1, 2, 2, 3), np.uint8)
    following = frames.copy()
    following[0, 0, 0] = [3, 4, 9]  # B is not seen by these filters: sqrt(3^2 + 4^2) = 5 at one pixel
    following[0, 1, 1] = [6, 0, 0]
    assert conv_difference(frames, following, conv).tolist() == pytest.approx([11.0])


def test_the_default_shallow_conv_is_fixed_by_its_seed():
    assert torch.equal(shallow_conv(3).weight, shallow_conv(3).weight)
    assert not torch.equal(shallow_conv(3).weight, shallow_conv(4).weight)


def hand_made_video(t=10):
    """Candidates that all look alike (a still scene), but candidates 5 to 8 are inside a fast motion: the
    video frame right before each of them (and, for the next-frame reading, right after) is another picture."""
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    pixels = np.repeat(scene[None], t, axis=0)
    previous, following = pixels.copy(), pixels.copy()
    previous[5:9] = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    following[5:9] = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    return Candidates.of_length(t, pixels=pixels, previous_pixels=previous, next_pixels=following)


@pytest.mark.parametrize("motion", ["image", "ssim", "conv"])
def test_consecutive_video_frames_find_the_motion_between_candidates(motion):
    candidates = hand_made_video()
    for pairs in ("previous_frame", "next_frame"):
        sampler = create_sampler("mgsampler", motion=motion, pairs=pairs, mu=1.0, test_point="centre")
        scores = sampler.motion_scores(candidates)
        moving = [5, 6, 7, 8]
        assert (scores[moving] > 0).all() and np.delete(scores, moving).max() == pytest.approx(0.0, abs=1e-9)
        assert sampler.select(candidates, 2).tolist() == [5, 7]  # C = 0 x 5, .25, .5, .75, 1, 1: bin centres .25, .75
    first_reading = create_sampler("mgsampler", motion=motion, pairs="candidates", test_point="centre")
    assert first_reading.motion_scores(candidates).max() == pytest.approx(0.0, abs=1e-9)  # the candidates are alike
    assert first_reading.select(candidates, 2).tolist() == [2, 7]  # no motion: uniform


def test_eq1_pairs_each_candidate_with_the_video_frame_before_it_by_hand():
    """One-pixel frames (all three channels equal). Eq. 1 (the default): |I_t - I_{t-1}| with the video frame
    before each candidate; the next-frame reading: with the frame after; the first reading: with the previous
    candidate (S_0 = 0)."""
    def frames(values):
        return np.repeat(np.asarray(values, np.uint8)[:, None, None, None], 3, axis=3)

    candidates = Candidates.of_length(4, pixels=frames([10, 10, 40, 40]), previous_pixels=frames([10, 0, 40, 20]),
                                      next_pixels=frames([13, 10, 40, 40]))
    scores = {pairs: create_sampler("mgsampler", pairs=pairs).motion_scores(candidates).tolist()
              for pairs in ("previous_frame", "next_frame", "candidates")}
    assert scores == {"previous_frame": [0.0, 30.0, 0.0, 60.0], "next_frame": [9.0, 0.0, 0.0, 0.0],
                      "candidates": [0.0, 0.0, 90.0, 0.0]}
    stored = Candidates.of_length(4, neighbour_motion=[0.0, 30.0, 0.0, 60.0], motion=[0.0, 0.0, 90.0, 0.0])
    assert create_sampler("mgsampler").motion_scores(stored).tolist() == scores["previous_frame"]
    assert create_sampler("mgsampler", pairs="candidates").motion_scores(stored).tolist() == scores["candidates"]


def test_auto_takes_the_neighbour_frame_wherever_given_and_says_where_it_fell_back():
    candidates = hand_made_video()
    sampler = create_sampler("mgsampler")
    assert sampler.reads == Reads.PIXELS | Reads.FEATURES | Reads.PREVIOUS_PIXELS  # the pipeline decodes that frame
    assert create_sampler("mgsampler", pairs="next_frame").reads == Reads.PIXELS | Reads.FEATURES | Reads.NEXT_PIXELS
    assert sampler.reading(candidates) == "image, previous_frame"
    assert sampler.select(candidates, 2, rng=np.random.default_rng(1)).tolist() == create_sampler(
        "mgsampler", motion="image").select(candidates, 2, rng=np.random.default_rng(1)).tolist()
    readings = {
        "stored, previous_frame": Candidates.of_length(4, neighbour_motion=np.ones(4), motion=np.ones(4),
                                                       features=np.ones((4, 2))),
        "image, candidates": Candidates.of_length(10, pixels=candidates.pixels),  # an integration's decoded candidates
        "stored, candidates": Candidates.of_length(4, motion=np.ones(4), features=np.ones((4, 2))),  # an older dataset
        "feature, candidates": Candidates.of_length(4, features=np.array([[0.0], [3.0], [3.0], [7.0]])),  # features
    }
    assert {name: sampler.reading(c) for name, c in readings.items()} == {name: name for name in readings}
    assert sampler.motion_scores(readings["feature, candidates"]).tolist() == [0.0, 3.0, 0.0, 4.0]
    assert create_sampler("mgsampler", motion="mv").reading(readings["stored, candidates"]) == "mv"
    with pytest.raises(ValueError, match="needs candidates.previous_pixels, the video frame before"):
        create_sampler("mgsampler", motion="image").select(Candidates.of_length(4, pixels=np.zeros((4, 8, 8, 3))), 2)
    with pytest.raises(ValueError, match="needs candidates.next_pixels, the video frame after"):
        create_sampler("mgsampler", motion="image", pairs="next_frame").select(
            Candidates.of_length(4, pixels=np.zeros((4, 8, 8, 3))), 2)
    for name, value in (("pairs", "neighbours"), ("test_point", "middle")):
        with pytest.raises(ValueError, match=f"unknown {name}"):
            create_sampler("mgsampler", **{name: value})


def test_test_point_is_a_seeded_random_point_of_each_bin_by_default_and_the_centre_as_the_official_code():
    """Flat motion over 100 candidates, mu = 1: C_t = (t + 1) / 100, so the point c of a bin picks t = 100 c - 1.
    Sec. 3.3: a random point in each of the k bins [i/k, (i+1)/k); the official code's test mode: the centres."""
    candidates = Candidates.of_length(100, motion=np.ones(100), features=np.ones((100, 1)))
    paper = create_sampler("mgsampler", mu=1.0)
    assert paper.stochastic and not create_sampler("mgsampler", test_point="centre").stochastic
    u = np.random.default_rng(7).random(4)
    expected = np.round((np.arange(4) + u) / 4 * 100 - 1).astype(int)
    assert paper.select(candidates, 4, rng=np.random.default_rng(7)).tolist() == expected.tolist()
    assert all(25 * i - 1 <= p < 25 * (i + 1) for i, p in enumerate(expected))  # one pick in each bin
    draws = {tuple(paper.select(candidates, 4, rng=np.random.default_rng(seed))) for seed in range(5)}
    assert len(draws) > 1
    centre = create_sampler("mgsampler", mu=1.0, test_point="centre")
    assert centre.select(candidates, 4, rng=np.random.default_rng(7)).tolist() == [11, 36, 61, 86]  # 12.5 - 1, ...


@pytest.mark.parametrize("motion", ["image", "ssim", "conv"])
def test_a_single_candidate_has_no_pair_and_is_chosen(motion):
    pixels = np.zeros((1, 8, 8, 3), np.uint8)
    sampler = create_sampler("mgsampler", motion=motion, pairs="candidates")
    assert sampler.select(Candidates.of_length(1, pixels=pixels), 1).tolist() == [0]


def test_on_a_video_dataset_mv_reads_the_bitstream_motion_not_the_stored_image_motion():
    """``evaluate`` hands MGSampler ``motion="mv"`` each frame's mean motion-vector displacement (the mean of its
    compressed vector's MD map), as the pipeline does on a file; ``auto`` keeps the stored image motion."""
    from dataclasses import replace

    from framesampler.classifiers.frozen import train_classifier
    from framesampler.eval.evaluate import evaluate
    from framesampler.video.bitstream import COMPRESSED_DIM, GRID
    from tests.conftest import tiny_video_set

    actions = []

    def compressed(rng, action):
        actions.append(action)
        rows = np.zeros((6, COMPRESSED_DIM), np.float32)
        rows[:, :GRID * GRID] = 0.01
        rows[action, :GRID * GRID] = 5.0  # the motion vectors move only at the action frame
        return rows

    videos = tiny_video_set("compressed_frames", compressed)
    assert videos.bitstream_motion()[videos.refs[0]].round(2).tolist().count(5.0) == 1
    mask = np.zeros(videos.refs.shape, bool)
    mask[np.arange(len(actions)), actions] = True
    videos = replace(videos, frame_motion=np.ones(videos.frames.shape[0]), action_mask=mask)  # stored image motion: flat
    classifier = train_classifier(videos, epochs=1, heads=("linear",))
    results = evaluate(videos, classifier, {"mv": create_sampler("mgsampler", motion="mv", test_point="centre"),
                                            "auto": create_sampler("mgsampler", test_point="centre")}, T=6, N=2,
                       progress=False)
    # C_t jumps from ~0 to ~1 at the action frame: the bins at 0.25 and 0.75 take the frame before it and it
    assert results["mv"]["in_burst"] == 0.5 > results["auto"]["in_burst"]


def test_extract_stores_eq1_against_the_previous_video_frame_and_an_older_entry_gains_it(tmp_path, monkeypatch):
    """A video dataset holds each candidate's Eq. 1 motion against the video frame before it (``neighbour_motion``),
    computed from the frames at the sampler's size; an entry written before it existed gets it added, the same
    values, without running the networks (``Extractor``)."""
    from framesampler.app.extract import Extractor, extract
    from framesampler.app.pipeline import previous_frames
    from framesampler.data.dataset import ExtractConfig
    from framesampler.data.manifest import read_manifest
    from framesampler.data.synthetic import write_synthetic_videos
    from framesampler.policies.mgsampler import image_difference
    from framesampler.video import VideoReader

    manifest = write_synthetic_videos(tmp_path / "videos", classes=1, videos_per_class=1, num_frames=24, size=64)
    splits = {"train": read_manifest(manifest)}
    config = ExtractConfig(T=8, classifier_resolution=64, sampler_resolution=64, sampler_stages=2)
    [(entry, _, target)] = extract(splits, config, cache_dir=tmp_path / "cache", progress=False).done
    fresh = dict(np.load(target))
    with VideoReader(entry.path) as reader:
        indices = fresh["frame_indices"]
        low, before = (reader.frames(i, size=64, crop=64) for i in (indices, previous_frames(indices)))
    assert previous_frames(np.array([0, 3, 7])).tolist() == [0, 2, 6]
    np.testing.assert_allclose(fresh["neighbour_motion"], image_difference(before, low), rtol=1e-6)
    assert not np.allclose(fresh["neighbour_motion"], fresh["motion"])  # not the consecutive candidates' motion
    np.savez(target, **{k: v for k, v in fresh.items() if k != "neighbour_motion"})
    monkeypatch.setattr(Extractor, "__call__", lambda *args: pytest.fail("the video was extracted again"))
    extract(splits, config, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_allclose(np.load(target)["neighbour_motion"], fresh["neighbour_motion"], rtol=1e-6)


def test_the_first_reading_row_picks_as_the_first_default_did():
    """``MG_FIRST`` (experiments): image differences of consecutive candidates and bin centres, what MGSampler did on
    decoded candidates before Eq. 1's neighbour frame and Sec. 3.3's random point became its defaults."""
    from framesampler.app.experiments import MG_FIRST, SECTIONS
    from framesampler.policies.mgsampler import image_motion, motion_guided_positions

    pixels = np.random.default_rng(3).integers(0, 256, (40, 8, 8, 3)).astype(np.uint8)
    pixels[:20] = pixels[0]  # still, then moving
    candidates = Candidates.of_length(40, pixels=pixels, previous_pixels=pixels)
    [(name, options)] = MG_FIRST.values()
    first = create_sampler(name, **options)
    expected = np.sort(motion_guided_positions(image_motion(pixels), 6))
    for seed in range(3):
        assert first.select(candidates, 6, rng=np.random.default_rng(seed)).tolist() == expected.tolist()
    assert first.reading(candidates) == "image, candidates"
    assert all(set(MG_FIRST) <= set(c.variants) and "mgsampler" in c.policies
               for section in ("pixel_peers", "mg_pixels") for c in SECTIONS[section][section].values())
