import numpy as np
import pytest

from framesampler.eval.metrics import average_precision, in_burst_fraction, mean_average_precision, sampling_fidelity, top1


def test_average_precision_hand_checked():
    # ranking: .8(+) .4(-) .35(+) .1(-): P@1 = 1, P@3 = 2/3 -> AP = (1 + 2/3) / 2
    assert average_precision(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], bool)) == pytest.approx(5 / 6)
    assert average_precision(np.array([0.9, 0.1]), np.array([True, False])) == 1.0


def test_average_precision_treats_ties_as_one_threshold():
    # both at .5, one positive: precision at that threshold is 1/2
    assert average_precision(np.array([0.5, 0.5]), np.array([True, False])) == pytest.approx(0.5)


def test_map_averages_classes_with_positives():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0]])
    labels = np.array([0, 1, 1])
    # class 0: ranking v0(+) v2(-) v1(-) -> 1; class 1: v1(+) v2(+) v0(-) -> 1; class 2 has no positive
    assert mean_average_precision(scores, labels) == pytest.approx(1.0)
    assert top1(scores, labels) == pytest.approx(2 / 3)
    labels = np.array([0, 1, 0])
    # class 0: v0(+) v2(+) v1(-) -> 1; class 1: ranking v1(+) .. -> 1
    assert mean_average_precision(scores, labels) == pytest.approx(1.0)
    assert top1(scores, labels) == 1.0


def test_fidelity_hand_checked():
    selected = [np.array([0, 1, 2]), np.array([3, 4, 5])]
    optimal = [np.array([0, 1, 9]), np.array([6, 7, 8])]
    assert sampling_fidelity(selected, optimal) == pytest.approx((2 / 3 + 0) / 2)
    with pytest.raises(ValueError):
        sampling_fidelity(selected, optimal[:1])


def test_in_burst_pools_the_chosen_frames_of_all_videos():
    inside = [np.array([0, 1, 1, 0], bool), np.array([1, 0, 0, 0], bool)]
    # video 0: 2 of 3 chosen inside; video 1: 0 of 1 -> 2 of 4 pooled (not the mean of 2/3 and 0)
    assert in_burst_fraction([np.array([1, 2, 3]), np.array([2])], inside) == 0.5
    assert in_burst_fraction([np.array([1]), np.array([0])], inside) == 1.0
    with pytest.raises(ValueError, match="zero chosen"):
        in_burst_fraction([np.array([], np.int64)], inside[:1])
