import os
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from framesampler.data.synthetic import write_synthetic_videos
from framesampler.video import VideoError, VideoReader, list_backends, probe, read_frames
from framesampler.video.transforms import center_crop, output_size, resize_short_side

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
BOTTLE = VIDEOS / "intel-sample-videos" / "bottle-detection.mp4"  # 640 x 360, 1189 frames, 5 keyframes
CAR = VIDEOS / "intel-sample-videos" / "car-detection.mp4"
BUGGY = VIDEOS / "opencv-doc" / "Megamind_bugy.avi"


@pytest.fixture(scope="module")
def videos() -> Path:
    if not VIDEOS.is_dir():
        raise FileNotFoundError(f"the shared videos are missing at {VIDEOS}; tests need ../shared beside the repo")
    return VIDEOS


@pytest.fixture(scope="module")
def synthetic_video(tmp_path_factory) -> Path:
    """40 frames of H.264 with B-frames and a keyframe every 16 frames."""
    manifest = write_synthetic_videos(tmp_path_factory.mktemp("synthetic"), classes=1, videos_per_class=1,
                                      frame_count=40, size=64)
    return manifest.parent / manifest.read_text().split()[0]


def sequential_frames(path: Path, positions: set[int]) -> dict[int, np.ndarray]:
    """Brute force: decode the whole video with plain PyAV and keep the frames at ``positions``."""
    kept, previous_pts = {}, None
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            assert previous_pts is None or frame.pts > previous_pts  # output order is pts order in these files
            previous_pts = frame.pts
            if i in positions:
                kept[i] = frame.to_ndarray(format="rgb24")
    return kept


def keyframe_positions(path: Path) -> list[int]:
    """Frame numbers of the keyframes, from the packets' flags and timestamps (plain PyAV)."""
    with av.open(str(path)) as container:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(video=0) if p.size]
    return [i for i, (_, key) in enumerate(sorted(packets)) if key]


def test_probe_counts_every_shared_video_or_says_why_not(videos):
    files = sorted(p for p in videos.rglob("*") if p.suffix in (".mp4", ".avi", ".mkv"))
    assert len(files) >= 30
    for path in files:
        try:
            meta = probe(path)
        except VideoError as error:
            assert "\n" not in str(error) and str(error).startswith(str(path))
            continue
        assert meta.num_frames > 0 and meta.fps > 0 and meta.width > 0 and meta.height > 0, path
        assert meta.duration == pytest.approx(meta.num_frames / meta.fps)


def test_tree_avi_counts_the_frames_it_holds_not_the_header(videos):
    meta = probe(videos / "opencv-doc" / "tree.avi")
    assert meta.num_frames == 68  # the AVI header says 444
    assert meta.duration == pytest.approx(30.0, abs=0.1) and meta.fps == pytest.approx(68 / 30.0, rel=0.01)
    assert read_frames(meta.path, [67]).shape == (1, 240, 320, 3)


def test_damaged_megamind_decodes_with_its_damage_visible(videos):
    """Megamind_bugy.avi raises no decoding error: its 270 frames decode, and the damage is in the pictures
    (e.g. a white rectangle over frame 40, which Megamind.avi does not have)."""
    assert probe(BUGGY).num_frames == 270
    ends = read_frames(BUGGY, [0, 1, 268, 269])  # AVI: reaching frame 0 needs a seek by dts, not pts
    np.testing.assert_array_equal(ends[[0, 3]], read_frames(BUGGY, [269, 0])[::-1])
    buggy, clean = read_frames(BUGGY, [39, 40, 41]), read_frames(videos / "opencv-doc" / "Megamind.avi", [40])
    white = (buggy.min(axis=-1) > 235).mean(axis=(1, 2))
    assert white[1] > 0.1 and white[0] < 0.01 and white[2] < 0.01
    assert (clean.min(axis=-1) > 235).mean() < 0.01


@pytest.mark.parametrize("which", ["bottle", "synthetic"])
def test_a_frame_has_the_same_pixels_however_it_is_read(which, videos, synthetic_video):
    path = BOTTLE if which == "bottle" else synthetic_video
    count = probe(path).num_frames
    keyframes = keyframe_positions(path)
    assert len(keyframes) >= 3  # reads below cross every keyframe boundary
    around = sorted({i for k in keyframes for i in (k - 1, k, k + 1, k + 7) if 0 <= i < count} | {count - 1})
    expected = sequential_frames(path, set(around))
    with VideoReader(path) as reader:
        batch = reader.frames(around)
        backwards = reader.frames(around[::-1])
        repeated = reader.frames([around[3], around[0], around[3]])
    for row, i in enumerate(around):
        np.testing.assert_array_equal(batch[row], expected[i], err_msg=f"frame {i} in a batch")
        np.testing.assert_array_equal(backwards[len(around) - 1 - row], expected[i], err_msg=f"frame {i} reversed")
    for i in around[::3]:
        np.testing.assert_array_equal(read_frames(path, [i])[0], expected[i], err_msg=f"frame {i} alone")
    np.testing.assert_array_equal(repeated, np.stack([expected[around[3]], expected[around[0]], expected[around[3]]]))


def test_size_and_crop_shapes(videos):
    path = BOTTLE  # 640 x 360
    assert read_frames(path, [0, 5], size=128).shape == (2, 128, 228, 3)
    assert read_frames(path, [0], crop=300).shape == (1, 300, 300, 3)
    assert read_frames(path, [3, 1, 3], size=128, crop=112).shape == (3, 112, 112, 3)
    assert read_frames(path, [], size=128).shape == (0, 128, 228, 3)
    assert output_size(640, 360, 128) == (228, 128) and output_size(360, 640, 128) == (128, 228)
    with pytest.raises(ValueError, match="crop must be between 1 and"):
        read_frames(path, [0], size=128, crop=200)


def test_reader_reads_one_open_video_at_two_resolutions_and_resize_agrees(videos):
    with VideoReader(BOTTLE) as reader:
        small = reader.frames([10, 500], size=96)
        full = reader.frames([10, 500])
    again = resize_short_side(full, 96)
    assert again.shape == small.shape
    assert np.abs(again.astype(int) - small).mean() < 3  # swscale and torch's antialiased bilinear differ slightly
    with pytest.raises(ValueError, match="closed"):
        reader.frames([0])


def test_frames_decoded_once_convert_at_any_size_like_a_fresh_read(videos):
    indices = [900, 3, 250, 3, 1188]  # across keyframes, out of order, repeated
    with VideoReader(BOTTLE) as reader:
        decoded = reader.decode(indices)
        more = reader.frames([600, 700], size=64)  # decoding other frames must not disturb the kept ones
        low = decoded.to_array(size=128, crop=112)
        full = decoded.to_array(size=224, crop=224, positions=[4, 0])
        assert more.shape == (2, 64, 114, 3)
        assert np.array_equal(low, reader.frames(indices, size=128, crop=112))
        assert np.array_equal(full, reader.frames([1188, 900], size=224, crop=224))
    assert decoded.to_array(positions=[]).shape == (0, 360, 640, 3)


def test_transforms_keep_the_input_type_and_crop_the_centre():
    frames = np.zeros((2, 40, 60, 3), np.uint8)
    frames[:, 10:30, 20:40] = 255
    cropped = center_crop(frames, 20)
    assert cropped.shape == (2, 20, 20, 3) and cropped.min() == 255
    resized = resize_short_side(torch.from_numpy(frames), 20)
    assert isinstance(resized, torch.Tensor) and resized.shape == (2, 20, 30, 3) and resized.dtype == torch.uint8
    with pytest.raises(ValueError, match="uint8 frames"):
        resize_short_side(frames.astype(np.float32), 20)


def test_out_of_range_indices_name_the_frame_count(videos):
    with pytest.raises(VideoError, match=r"frame index 1189 is out of range: the video has 1189 frames"):
        read_frames(BOTTLE, [0, 1189])
    with pytest.raises(VideoError, match="frame index -1"):
        read_frames(BOTTLE, [-1])
    with pytest.raises(ValueError, match="integers"):
        read_frames(BOTTLE, [0.5])


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_bad_files_raise_one_line_video_errors(videos, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("these are notes, not a video\n" * 20)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(CAR.read_bytes()[:int(CAR.stat().st_size * 0.3)])
    cases = {tmp_path / "missing.mp4": "no such file", empty: "empty", text: "not a readable video",
             truncated: "truncated", write_audio_only(tmp_path / "sound.wav"): "no video stream", tmp_path: "not a regular"}
    for path, reason in cases.items():
        with pytest.raises(VideoError) as caught:
            probe(path)
        message = str(caught.value)
        assert "\n" not in message and message.startswith(f"{path}: ") and reason in message and "; " in message


def test_decoding_damaged_files_prints_nothing(videos, tmp_path, capfd):
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(CAR.read_bytes()[:int(CAR.stat().st_size * 0.3)])
    read_frames(BUGGY, np.arange(0, 270, 9))
    with pytest.raises(VideoError):
        probe(truncated)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_backends_are_optional():
    assert "pyav" in list_backends()
    with pytest.raises(ValueError, match="unknown backend"):
        probe(BOTTLE, backend="opencv")
    for name in ("decord", "torchcodec"):
        if name not in list_backends():
            with pytest.raises(ValueError, match=rf"pip install framesampler\[{name}\]"):
                probe(BOTTLE, backend=name)


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.7, 0.99])
def test_a_cut_matroska_stream_is_truncated_not_a_shorter_video(fraction, videos, tmp_path):
    """Issue 10 case 6: the first 30% of again.mkv was read as 14 frames at 24.34 fps with a garbage last
    frame. Packets ending before the header's duration, or the last B-frames missing, mean truncated."""
    source = videos / "intel-sample-videos" / "asl_gestures" / "again.mkv"
    cut = tmp_path / "again.mkv"
    data = source.read_bytes()
    cut.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(VideoError, match="truncated") as caught:
        probe(cut)
    assert str(caught.value).startswith(f"{cut}: ") and "\n" not in str(caught.value)
    assert probe(source).num_frames == 77


def test_a_frame_past_the_end_of_a_damaged_stream_says_truncated(videos, monkeypatch):
    """Packets that end before a wanted frame comes out (here: the last packet made undecodable)."""
    import framesampler.video.decode as decode

    real = decode._decode

    def failing_last(codec_context, packet):
        if packet is not None and packet.size and packet.pts == last_pts:
            return []
        return real(codec_context, packet)

    with VideoReader(CAR) as reader:
        last_pts = int(reader.index.pts[-1])
        monkeypatch.setattr(decode, "_decode", failing_last)
        with pytest.raises(VideoError, match=rf"frame {len(reader.index.pts) - 1} could not be decoded: the stream ends before it"):
            reader.frames([len(reader.index.pts) - 1])


def test_a_backend_counts_only_if_it_imports_and_decodes(tmp_path, monkeypatch):
    """A package that imports but crashes (torchcodec's CUDA wheel with the CPU torch here) or decodes
    nothing is not listed, though importlib finds it; the check runs in a child process."""
    import importlib.util

    from framesampler.video import decode

    fake = tmp_path / "fake"
    (fake / "decord").mkdir(parents=True)
    (fake / "decord" / "__init__.py").write_text("import os\nos.abort()\n")
    (fake / "torchcodec" / "decoders").mkdir(parents=True)
    (fake / "torchcodec" / "__init__.py").write_text("")
    (fake / "torchcodec" / "decoders" / "__init__.py").write_text(
        "import numpy\nclass VideoDecoder:\n    def __init__(self, path):\n        self.path = path\n"
        "    def __getitem__(self, i):\n        return numpy.zeros((3, 32, 32))\n")
    monkeypatch.syspath_prepend(str(fake))
    monkeypatch.setenv("PYTHONPATH", f"{fake}:{os.environ.get('PYTHONPATH', '')}")
    decode._decodes.cache_clear()
    try:
        assert importlib.util.find_spec("decord") is not None
        assert decode.list_backends() == ["pyav", "torchcodec"]  # the fake torchcodec decodes a frame
        with pytest.raises(ValueError, match=r"backend 'decord' is not installed or does not decode here"):
            VideoReader(BOTTLE, backend="decord")
    finally:
        decode._decodes.cache_clear()
