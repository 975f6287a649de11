"""framesampler against outside references (torchmetrics-style): the same inputs through scikit-learn,
mmaction2 and transformers, equal where they agree, and every documented difference asserted, not hidden.

- average precision: scikit-learn's ``average_precision_score`` (tied scores form one threshold in both); mAP
  leaves out a class with no positive video, where scikit-learn's macro average counts it as AP 0.
- uniform candidates (``candidate_indices(T, N)``, TSN test mode, segment centres ``floor((i + 0.5) T / N)``):
  mmaction2's ``SampleFrames(clip_len=1, frame_interval=1, num_clips=N, test_mode=True)`` computes the same
  centres in float64 but not exactly (``int(i * (T/N) + (T/N) / 2)``), which lands one frame early
  exactly where the centre is a whole number; transformers' default sampler takes the segment starts
  ``floor(i T / N)``, not the centres, and refuses N > T.
"""
import warnings

import numpy as np
import pytest

from framesampler.candidates import candidate_indices
from framesampler.eval.metrics import average_precision, mean_average_precision

sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="pip install 'framesampler[test]' (scikit-learn)")

SIZES = [(t, n) for n in range(1, 65) for t in range(1, 301)]  # every (T, N) with T <= 300, N <= 64


# --- average precision against scikit-learn ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(40))
def test_average_precision_equals_sklearn_on_random_scores_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    videos = int(rng.integers(1, 60))
    positives = rng.random(videos) < rng.uniform(0.05, 0.95)
    positives[rng.integers(videos)] = True  # AP needs a positive
    scores = rng.random(videos)
    if seed % 2:  # many ties: a handful of distinct score values
        scores = np.round(scores * int(rng.integers(1, 5))) / 4
    expected = sklearn_metrics.average_precision_score(positives, scores)
    assert average_precision(scores, positives) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("scores", "positives", "expected"), [
    ([0.9, 0.8, 0.7], [1, 0, 1], (1 + 2 / 3) / 2),  # ranks 1 and 3: precisions 1 and 2/3
    ([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 1], 0.5),  # one threshold for all: precision 2/4 at full recall
    ([0.9, 0.5, 0.5, 0.1], [0, 1, 0, 1], (0.5 * 1 / 3) + (0.5 * 2 / 4)),  # the tie counts both of its videos
    ([0.1, 0.2, 0.3], [1, 0, 0], 1 / 3),  # the only positive ranked last
])
def test_average_precision_hand_cases_agree_with_sklearn(scores, positives, expected):
    assert average_precision(np.array(scores), np.array(positives, bool)) == pytest.approx(expected)
    assert sklearn_metrics.average_precision_score(positives, scores) == pytest.approx(expected)


def test_average_precision_without_a_positive_raises_where_sklearn_warns_and_returns_0():
    with pytest.raises(ValueError, match="at least one positive"):
        average_precision(np.array([0.3, 0.7]), np.array([False, False]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert sklearn_metrics.average_precision_score([0, 0], [0.3, 0.7]) == 0.0


def test_map_is_sklearn_macro_over_the_classes_with_a_positive_video_only():
    rng = np.random.default_rng(0)
    labels = np.array([0, 2, 0, 3, 2, 0, 3, 3])  # class 1 has no video: left out here, AP 0 in sklearn's macro
    scores = rng.random((len(labels), 4))
    onehot = np.eye(4, dtype=int)[labels]
    present = [0, 2, 3]
    assert mean_average_precision(scores, labels) == pytest.approx(
        sklearn_metrics.average_precision_score(onehot[:, present], scores[:, present], average="macro"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        all_columns = sklearn_metrics.average_precision_score(onehot, scores, average="macro")
    assert all_columns == pytest.approx(mean_average_precision(scores, labels) * 3 / 4)


# --- uniform candidates against mmaction2 and transformers --------------------------------------------------------

def test_uniform_candidates_are_the_exact_segment_centres():
    """The hand formula in integers, ``(2i + 1) T // 2N``: no float rounding anywhere in ``candidate_indices``."""
    for t, n in SIZES:
        exact = (2 * np.arange(n) + 1) * t // (2 * n)
        assert np.array_equal(candidate_indices(t, n, short_policy="repeat"), exact), (t, n)


def test_uniform_candidates_against_mmaction2_sample_frames():
    """Equal, except that mmaction2 picks one frame earlier exactly where the centre is a whole number and its
    float sum lands just below it: counted and characterised, never any other difference."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transforms = pytest.importorskip("mmaction.datasets.transforms", reason="pip install 'framesampler[mmaction2]'")
    differing = positions = 0
    for n in range(1, 65):
        sample_frames = transforms.SampleFrames(clip_len=1, frame_interval=1, num_clips=n, test_mode=True)
        for t in range(1, 301):
            theirs = sample_frames.transform({"total_frames": t, "start_index": 0})["frame_inds"]
            ours = candidate_indices(t, n, short_policy="repeat")
            early = np.flatnonzero(theirs != ours)
            if early.size:
                differing += 1
                positions += early.size
                assert np.array_equal(ours[early] - theirs[early], np.ones(early.size)), (t, n)
                assert np.all((2 * early + 1) * t % (2 * n) == 0), (t, n)  # the centre is a whole frame number
            if t >= n:  # framesampler's default for a long enough video is the same call
                assert np.array_equal(candidate_indices(t, n), ours)
    assert 0 < differing < len(SIZES) // 10  # a few percent of the (T, N) pairs, each at a whole-number centre
    assert positions >= differing


def test_uniform_candidates_against_transformers_default_sampler():
    """transformers takes each segment's first frame, ``floor(i T / N)``; framesampler its centre, which is later by
    floor(T / 2N) or one more: equal exactly when T == N (for N < T the last centre is later, for T > 2N the first). N > T
    is refused there (framesampler has short_policy)."""
    video_utils = pytest.importorskip("transformers.video_utils", reason="pip install 'framesampler[hf]'")
    equal = 0
    for t, n in SIZES:
        metadata = video_utils.VideoMetadata(total_num_frames=t, fps=25.0)
        if n > t:
            with pytest.raises(ValueError):
                video_utils.default_sample_indices_fn(metadata, num_frames=n)
            continue
        theirs = video_utils.default_sample_indices_fn(metadata, num_frames=n)
        assert np.array_equal(theirs, np.arange(n) * t // n)
        later = candidate_indices(t, n) - theirs
        assert set(later.tolist()) <= {t // (2 * n), t // (2 * n) + 1}, (t, n)
        equal += np.array_equal(later, np.zeros(n))
        assert np.array_equal(later, np.zeros(n)) == (t == n), (t, n)
    assert equal == 64
