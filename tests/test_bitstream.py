from pathlib import Path

import av
import numpy as np
import pytest

import framesampler.video.decode as decode
from framesampler.candidates import candidate_indices
from framesampler.video import VideoReader
from framesampler.video.bitstream import block_motion, motion_frames, motion_vectors

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


@pytest.fixture(scope="module")
def videos() -> Path:
    if not VIDEOS.is_dir():
        raise FileNotFoundError(f"the shared videos are missing at {VIDEOS}; tests need ../shared beside the repo")
    return VIDEOS


def vectors(rows: list[tuple]) -> np.ndarray:
    dtype = [("source", "<i4"), ("w", "u1"), ("h", "u1"), ("src_x", "<i2"), ("src_y", "<i2"), ("dst_x", "<i2"),
             ("dst_y", "<i2"), ("flags", "<u8"), ("motion_x", "<i4"), ("motion_y", "<i4"), ("motion_scale", "<u2")]
    return np.array([(-1, w, h, 0, 0, x, y, 0, mx, my, scale) for w, h, x, y, mx, my, scale in rows], dtype=dtype)


def test_block_motion_by_hand():
    # a 16x16 block moved (3, 4) px in quarter-pel units at the top left, an 8x8 block still at the bottom right
    rows = vectors([(16, 16, 8, 8, 12, 16, 4), (8, 8, 60, 28, 0, 0, 4)])
    mean, cells = block_motion(rows, 64, 32, grid=2)
    assert mean == pytest.approx(5 * 256 / (64 * 32))
    np.testing.assert_allclose(cells, [[5 * 256 / (32 * 16), 0], [0, 0]])


def test_motion_frame_is_the_first_predicted_frame_at_or_after_the_candidate():
    predicted = np.array([2, 5, 9])
    assert motion_frames(np.array([0, 2, 3, 9, 12]), predicted).tolist() == [2, 2, 5, 9, 9]


def full_decode_motion(path: Path, reader: VideoReader, frames: np.ndarray) -> dict[int, float]:
    """Brute force: decode every frame with motion vectors exported, keep the frames asked for."""
    meta, position, wanted, out = reader.metadata, {p: i for i, p in enumerate(reader.index.pts.tolist())}, set(frames.tolist()), {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"flags2": "+export_mvs"}
        for frame in container.decode(stream):
            i = position.get(frame.pts)
            if i in wanted:
                data = frame.side_data.get("MOTION_VECTORS")
                out[i] = block_motion(data.to_ndarray(), meta.width, meta.height)[0] if data is not None and len(data) else 0.0
    return out


@pytest.mark.parametrize("name", ["intel-sample-videos/bottle-detection.mp4",  # H.264 with B-frames
                                  "intel-sample-videos/car-detection.mp4",  # H.264, P-frames only
                                  "opencv-doc/vtest.avi",  # MS-MPEG-4
                                  "opencv-doc/Megamind.avi",  # MPEG-4 with packed B-frames in AVI: decoded with their GOP
                                  "opencv-doc/box.mp4"])  # H.264 low-delay B-frames: decoded with their GOP
def test_motion_vectors_equal_those_of_a_full_decode(name, videos):
    with VideoReader(videos / name) as reader:
        indices = candidate_indices(reader.metadata.num_frames, 24)
        view = motion_vectors(reader, indices)
        expected = full_decode_motion(videos / name, reader, view.frames)
    assert view.available and view.source.startswith("motion vectors (")
    assert view.motion.shape == (24,) and view.maps.shape == (24, 8, 8) and (view.motion >= 0).all() and view.motion.max() > 0
    np.testing.assert_allclose(view.motion, [expected[int(f)] for f in view.frames])
    np.testing.assert_allclose(view.maps.mean(axis=(1, 2)), view.motion)  # the map spreads the same motion over cells
    assert (view.frames >= indices).sum() >= 23  # at or after the candidate (the last may look back)


def test_motion_vectors_decode_far_fewer_frames_than_the_candidates_need(videos, monkeypatch):
    """bottle-detection has 5 keyframes: 24 candidates need ~1000 frames decoded, their motion vectors ~24."""
    calls = {"packets": 0}
    real = decode._decode

    def counting(codec_context, packet):
        calls["packets"] += packet is not None and packet.size > 0
        return real(codec_context, packet)

    with VideoReader(videos / "intel-sample-videos" / "bottle-detection.mp4") as reader:
        indices = candidate_indices(reader.metadata.num_frames, 24)
        monkeypatch.setattr(decode, "_decode", counting)
        view = motion_vectors(reader, indices)
        assert calls["packets"] <= len(np.unique(view.frames)) + 2
        calls["packets"] = 0
        reader.frames(indices, size=32)
        assert calls["packets"] >= 900


def test_keyframes_decode_only_their_own_packets(videos, monkeypatch):
    calls = []
    real = decode._decode

    def counting(codec_context, packet):
        if packet is not None and packet.size:
            calls.append(codec_context.skip_frame)
        return real(codec_context, packet)

    with VideoReader(videos / "intel-sample-videos" / "one-by-one-person-detection.mp4") as reader:
        keys = candidate_indices(reader.metadata.num_frames, 32, mode="keyframes", keyframes=reader.keyframes)
        monkeypatch.setattr(decode, "_decode", counting)
        frames = reader.frames(keys, size=64)
    assert frames.shape == (32, 64, 114, 3) and len(calls) == 32 and {str(c) for c in calls} == {"NONKEY"}


def test_streams_without_motion_vectors_say_why(videos, tmp_path):
    with VideoReader(videos / "opencv-doc" / "tree.avi") as reader:  # cinepak
        view = motion_vectors(reader, candidate_indices(reader.metadata.num_frames, 8))
    assert not view.available and view.maps is None and "cinepak decoder exports no motion vectors" in view.source
    mjpeg = tmp_path / "intra.avi"
    with av.open(str(mjpeg), "w") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(12):
            image = np.full((48, 64, 3), i * 20, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    with VideoReader(mjpeg) as reader:
        view = motion_vectors(reader, np.arange(0, 12, 3))
    assert not view.available and "mjpeg stream has no predicted frames (intra-only)" in view.source


def test_a_motion_frame_without_vectors_alone_is_read_after_its_reference_not_with_its_gop(videos, monkeypatch):
    """mmaction2's demo (H.264): 3 of the 64 motion frames come out of their lone packet without vectors; each is
    decoded again right after the anchor before it (two packets), and none with its GOP. The vectors are exact."""
    path = videos / "mmaction2" / "demo_demo.mp4"
    calls = {"packets": 0}
    real = decode._decode

    def counting(codec_context, packet):
        calls["packets"] += packet is not None and packet.size > 0
        return real(codec_context, packet)

    with VideoReader(path) as reader:
        indices = candidate_indices(reader.metadata.num_frames, 64)
        monkeypatch.setattr(decode, "_decode", counting)
        view = motion_vectors(reader, indices)
        monkeypatch.setattr(decode, "_decode", real)
        expected = full_decode_motion(path, reader, view.frames)
    wanted = len(np.unique(view.frames))
    assert "; 0 of 64 motion frames decoded with their GOP" in view.source
    assert wanted + 2 <= calls["packets"] <= wanted + 2 * 3  # the second read: each failed frame after its reference
    np.testing.assert_allclose(view.motion, [expected[int(f)] for f in view.frames])
