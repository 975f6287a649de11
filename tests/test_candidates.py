import numpy as np
import pytest

from framesampler.candidates import candidate_indices


def test_uniform_is_tsn_segment_centres():
    assert candidate_indices(100, 4).tolist() == [12, 37, 62, 87]
    assert candidate_indices(10, 10).tolist() == list(range(10))


def test_jitter_takes_one_frame_inside_each_segment():
    rng = np.random.default_rng(0)
    for _ in range(50):
        indices = candidate_indices(100, 8, mode="jitter", rng=rng)
        edges = np.arange(9) * 12.5
        assert np.all((np.floor(edges[:-1]) <= indices) & (indices < edges[1:]))


def test_fps_mode_steps_through_time():
    assert candidate_indices(300, mode="fps", fps=1, video_fps=30).tolist() == list(range(0, 300, 30))
    assert candidate_indices(300, 3, mode="fps", fps=2, video_fps=30).tolist() == [0, 15, 30]


def test_short_video_policies():
    assert candidate_indices(3, 5).tolist() == [0, 1, 2]
    assert candidate_indices(3, 5, short_policy="repeat").tolist() == [0, 0, 1, 2, 2]  # floor((i + .5) * 3 / 5)
    with pytest.raises(ValueError, match="fewer than the 5 candidates"):
        candidate_indices(3, 5, short_policy="error")


@pytest.mark.parametrize("kwargs, message", [
    (dict(frame_count=0, num_candidates=4), "no frames"),
    (dict(frame_count=10, num_candidates=0), "must be an integer >= 1"),
    (dict(frame_count=10, num_candidates=4, mode="jitter"), "pass rng"),
    (dict(frame_count=10, mode="fps", fps=1), "video_fps"),
])
def test_bad_arguments_say_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        candidate_indices(**kwargs)


def test_keyframe_candidates_thin_or_pad_the_keyframes_by_the_uniform_rule():
    keys = np.array([0, 10, 20, 30, 40, 50, 60, 70])
    assert candidate_indices(80, mode="keyframes", keyframes=keys).tolist() == keys.tolist()
    assert candidate_indices(80, 4, mode="keyframes", keyframes=keys).tolist() == [10, 30, 50, 70]  # keys[floor((i+.5)*8/4)]
    assert candidate_indices(80, 3, mode="keyframes", keyframes=keys).tolist() == [10, 40, 60]
    assert candidate_indices(80, 8, mode="keyframes", keyframes=keys).tolist() == keys.tolist()
    assert candidate_indices(80, 10, mode="keyframes", keyframes=keys).tolist() == keys.tolist()  # short_policy all
    padded = candidate_indices(80, 10, mode="keyframes", keyframes=keys, short_policy="repeat")
    assert padded.tolist() == [0, 10, 20, 20, 30, 40, 50, 60, 60, 70]  # keys[floor((i+.5)*8/10)]
    with pytest.raises(ValueError, match="8 keyframes, fewer than the 10"):
        candidate_indices(80, 10, mode="keyframes", keyframes=keys, short_policy="error")


@pytest.mark.parametrize("keyframes, message", [
    (None, "needs keyframes="), (np.array([0, 5, 5]), "sorted unique"), (np.array([0, 90]), "in 0..79"),
    (np.array([], dtype=int), "non-empty"), (np.array([0.5]), "non-empty 1-d array"),
])
def test_keyframe_candidates_check_the_keyframes(keyframes, message):
    with pytest.raises(ValueError, match=message):
        candidate_indices(80, 4, mode="keyframes", keyframes=keyframes)


def test_num_frames_is_the_deprecated_name_of_frame_count():
    """One name per idea: a video's length is ``frame_count``; ``num_frames=`` still works, with a warning."""
    with pytest.warns(DeprecationWarning, match=r"candidate_indices\(num_frames=...\) is deprecated: pass frame_count="):
        old = candidate_indices(num_frames=10, num_candidates=4)
    assert old.tolist() == candidate_indices(frame_count=10, num_candidates=4).tolist() == [1, 3, 6, 8]
    with pytest.raises(TypeError, match="got both num_frames= and frame_count="):
        candidate_indices(num_frames=10, frame_count=10, num_candidates=4)
