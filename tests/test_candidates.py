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
    (dict(num_frames=0, num_candidates=4), "no frames"),
    (dict(num_frames=10, num_candidates=0), "must be an integer >= 1"),
    (dict(num_frames=10, num_candidates=4, mode="jitter"), "pass rng"),
    (dict(num_frames=10, mode="fps", fps=1), "video_fps"),
])
def test_bad_arguments_say_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        candidate_indices(**kwargs)
