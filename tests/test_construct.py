"""The pixel-level untrimmed construction: plans checked by hand, the letterbox, and a small real version end
to end (real UCF101 clips re-encoded to MPEG-4 Part 2 .avi -> construct -> extract -> train -> evaluate --timed)."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from framesampler.cli import main
from framesampler.data.construct import ConstructConfig, Source, burst_mask, plan_video, write_video
from framesampler.video import VideoReader, read_frames
from framesampler.video.audio import AUDIO_RATE, read_audio
from framesampler.video.transforms import fit_size, letterbox

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucf101-clips"


def test_a_clip_resampled_in_time_keeps_its_duration():
    ntsc = Source("clip.mp4", 30000 / 1001, 0, 60)  # 2 s at 29.97 fps -> 50 frames at 25 fps
    frames = ntsc.frames_at(25.0)
    assert len(frames) == 50 and frames[0] == 0 and frames[-1] == 58  # 49 / 25 s shows frame floor(58.7)
    assert np.all(np.diff(frames) >= 1) and np.diff(frames).max() == 2  # one frame in six dropped
    assert np.array_equal(Source("a", 25.0, 10, 20).frames_at(25.0), np.arange(10, 20))
    assert np.array_equal(Source("slow", 5.0, 0, 3).frames_at(25.0), np.repeat(np.arange(3), 5))


def test_a_plan_holds_the_whole_clip_in_order_in_bursts_among_background():
    config = ConstructConfig(length=20.0, bursts=3, fps=25.0, segment=4.0)
    clip = Source("clip.mp4", 25.0, 0, 100, "Archery")
    background = [Source("piano.mp4", 25.0, 0, 180, "PlayingPiano"), Source("street.mp4", 10.0, 100, 400)]
    plan = plan_video(clip, background, config, np.random.default_rng(0))
    assert plan.num_frames == 500 and plan.runs[0].start == 0
    assert all(a.stop == b.start for a, b in zip(plan.runs, plan.runs[1:]))  # runs tile the video
    bursts = [run for run in plan.runs if run.action]
    assert len(bursts) == 3 and np.array_equal(np.concatenate([run.frames for run in bursts]), np.arange(100))
    assert [len(run.frames) for run in bursts] == [34, 33, 33]
    for run in plan.runs:
        if not run.action:
            source = next(s for s in background if s.path == run.source)
            assert run.source != clip.path and source.first <= run.frames.min() and run.frames.max() < source.stop
            assert len(run.frames) <= 100  # a segment is at most 4 s
    assert plan.action_mask().sum() == 100
    summary = plan.summary()
    assert [b["first_frame"] for b in summary["bursts"]] == [run.start for run in bursts]
    assert summary["bursts"][0]["start_s"] == bursts[0].start / 25.0
    assert np.array_equal(burst_mask(summary["bursts"], np.arange(500)), plan.action_mask())
    again = plan_video(clip, background, config, np.random.default_rng(0))
    assert [(r.source, r.start, r.frames.tolist()) for r in again.runs] == [(r.source, r.start, r.frames.tolist()) for r in plan.runs]
    other = plan_video(clip, background, config, np.random.default_rng(1))
    assert [r.start for r in other.runs if r.action] != [r.start for r in bursts]


def test_plans_refuse_what_cannot_be_built():
    config = ConstructConfig(length=2.0)
    with pytest.raises(ValueError, match="longer than the long video"):
        plan_video(Source("long.mp4", 25.0, 0, 100), [Source("b", 25.0, 0, 10)], config, np.random.default_rng(0))
    with pytest.raises(ValueError, match="no background footage"):
        plan_video(Source("c.mp4", 25.0, 0, 10), [], config, np.random.default_rng(0))
    with pytest.raises(ValueError, match="width=15"):
        ConstructConfig(width=15)


def test_a_constructed_video_carries_each_pieces_audio_from_its_source(tmp_path):
    """Archery's clip in 2 bursts among Surfing (with sound) and PlayingPiano (a clip without an audio track)."""
    config = ConstructConfig(length=12.0, bursts=2, width=160, height=120, gop=1.0, segment=3.0)
    clip = Source(str(CLIPS / "Archery" / "v_Archery_g01_c01.mp4"), 25.0, 0, 131, "Archery")
    surfing, piano = CLIPS / "Surfing" / "v_Surfing_g01_c01.mp4", CLIPS / "PlayingPiano" / "v_PlayingPiano_g01_c01.mp4"
    background = [Source(str(surfing), 25.0, 0, 254, "Surfing"), Source(str(piano), 30000 / 1001, 0, 218, "PlayingPiano")]
    plan = plan_video(clip, background, config, np.random.default_rng(3))
    assert read_audio(piano) is None and {run.source for run in plan.runs} == {clip.path, str(surfing), str(piano)}
    write_video(plan, tmp_path / "a.mp4", config)
    with av.open(str(tmp_path / "a.mp4")) as container:
        [sound] = container.streams.audio
        assert (sound.codec_context.name, sound.rate, sound.channels) == ("aac", AUDIO_RATE, 1)
    track, source = read_audio(tmp_path / "a.mp4"), read_audio(clip.path)
    assert abs(len(track) - 12 * AUDIO_RATE) < 1024  # the whole video, to within one AAC frame
    checked = set()
    for run in plan.runs:  # each run's middle (AAC's overlapping windows blur 64 ms at the cuts) against its source
        begin, end = round(run.start / 25 * AUDIO_RATE) + 1024, round(run.stop / 25 * AUDIO_RATE) - 1024
        if end - begin < AUDIO_RATE // 4:
            continue
        piece = track[begin:end]
        checked.add("burst" if run.action else Path(run.source).stem)
        if run.source == str(piano):
            assert np.abs(piece).max() < 1e-3  # no audio track: silence
            continue
        first = round(int(run.frames[0]) / 25 * AUDIO_RATE) + 1024
        original = (source if run.action else read_audio(surfing))[first:first + len(piece)]
        assert np.corrcoef(piece[:len(original)], original)[0, 1] > 0.95  # the same samples, AAC-coded
    assert checked == {"burst", surfing.stem, piano.stem}
    without = ConstructConfig(**{**config.__dict__, "audio": False})
    write_video(plan, tmp_path / "b.mp4", without)
    assert read_audio(tmp_path / "b.mp4") is None
    with VideoReader(tmp_path / "a.mp4") as a, VideoReader(tmp_path / "b.mp4") as b:  # the video stream is unchanged
        assert a.metadata.num_frames == b.metadata.num_frames == 300
        np.testing.assert_array_equal(a.frames([0, 150, 299]), b.frames([0, 150, 299]))


def test_letterbox_fits_keeps_the_aspect_and_pads_black():
    wide = np.full((2, 72, 128, 3), 200, np.uint8)
    boxed = letterbox(wide, 64, 48)
    assert boxed.shape == (2, 48, 64, 3) and fit_size(128, 72, 64, 48) == (64, 36)
    assert (boxed[:, :6] == 0).all() and (boxed[:, -6:] == 0).all() and (boxed[:, 6:42] == 200).all()
    assert np.array_equal(letterbox(wide[:, :48, :64], 64, 48), wide[:, :48, :64])  # already the size: unchanged


def reencode_avi(source: Path, target: Path, seconds: float = 2.0) -> None:
    """The first ``seconds`` of a clip as MPEG-4 Part 2 in AVI at 160x120 (another container and codec)."""
    with av.open(str(source)) as inp:
        rate = inp.streams.video[0].average_rate
        frames = [f.to_ndarray(format="rgb24", width=160, height=120) for f in inp.decode(video=0)][: int(seconds * rate)]
    with av.open(str(target), "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=Fraction(rate).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@pytest.fixture(scope="module")
def avi_clips(tmp_path_factory) -> Path:
    """Train and test manifests of 2 + 1 clips of Archery, Surfing and PlayingPiano as .avi, plus a broken entry."""
    if not CLIPS.is_dir():
        raise FileNotFoundError(f"the shared clips are missing at {CLIPS}; tests need ../shared beside the repo")
    root = tmp_path_factory.mktemp("avi")
    for split, count in (("train", 2), ("test", 1)):
        lines = []
        for label in ("Archery", "Surfing", "PlayingPiano"):
            listed = [line.split()[0] for line in (CLIPS / f"{split}.txt").read_text().splitlines() if line.endswith(label)]
            for name in listed[:count]:
                target = root / Path(name).with_suffix(".avi").name
                reencode_avi(CLIPS / name, target)
                lines.append(f"{target.name} {label}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    (root / "broken.avi").write_bytes(b"RIFF not really")
    with (root / "train.txt").open("a") as manifest:
        manifest.write("broken.avi Archery\n")
    return root


def test_avi_clips_construct_extract_train_and_evaluate_timed(avi_clips, tmp_path, capsys):
    out, cache = tmp_path / "long", ["--cache-dir", str(tmp_path / "cache")]
    construct = ["construct", str(avi_clips / "train.txt"), "--test", str(avi_clips / "test.txt"), "--vocab", "Archery,Surfing",
                 "--out", str(out), "--length", "6", "--size", "160x120", "--gop", "1", "--background-videos",
                 "--no-progress"]
    assert main(construct) == 0
    printed, err = capsys.readouterr()
    assert "constructed 6 long videos (4 train, 2 test, with audio): 6 written" in printed
    assert len([line for line in err.splitlines() if "broken.avi" in line]) == 1
    segments = json.loads((out / "segments.json").read_text())["videos"]
    assert json.loads((out / "construct.json").read_text())["config"]["audio"] is True
    manifest = (out / "test.txt").read_text().split()
    assert len(segments) == 6 and manifest[1] in ("Archery", "Surfing") and manifest[0] in segments

    name, video = next(iter(segments.items()))
    with VideoReader(out / name) as reader:
        assert (reader.metadata.num_frames, reader.metadata.width, reader.metadata.height) == (150, 160, 120)
        assert round(reader.metadata.fps) == 25
    burst = video["bursts"][0]
    stored = read_frames(out / name, [burst["first_frame"], burst["last_frame"]]).astype(float)
    source = read_frames(video["clip"], [burst["source_first_frame"], burst["source_last_frame"]]).astype(float)
    assert np.abs(stored - source).mean() < 8  # the burst is the clip (H.264 at CRF 23 is lossy, not far)
    background = video["background"][0]
    other = read_frames(out / name, [background["first_frame"]]).astype(float)
    assert np.abs(other - source[:1]).mean() > 15  # and the background is not

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    assert main(construct) == 0 and "0 written, 6 already there" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    assert main([*construct, "--seed", "1"]) == 2
    assert "constructed with other settings (config differ)" in capsys.readouterr().err

    data = tmp_path / "d.npz"
    assert main(["extract", str(out / "train.txt"), "--test", str(out / "test.txt"), "--out", str(data), "--T", "12",
                 "--classifier-size", "112", *cache, "--no-progress"]) == 0
    assert "and 6 source clips" in capsys.readouterr().out
    stored = np.load(data)
    assert stored["in_burst"].shape == (6, 12) and stored["trimmed_features"].shape[:2] == (6, 16)
    frames = stored["frame_indices"][0]
    key = Path(str(stored["path"][0])).relative_to(out).as_posix()
    assert np.array_equal(stored["in_burst"][0], burst_mask(segments[key]["bursts"], frames))
    assert 0 < stored["in_burst"].mean() < 1 and sorted(set(stored["trimmed_split"])) == ["test", "train"]

    assert main(["train", "--features", str(data), "--sampler", "sosampler", "--T", "12", "--N", "3", "--epochs", "2",
                 "--out", str(tmp_path / "sos"), *cache, "--no-progress"]) == 0
    report_path = tmp_path / "r.json"
    assert main(["evaluate", "--features", str(data), "--T", "12", "--N", "3", "--policies", "uniform,mgsampler,oracle",
                 "--checkpoint", str(tmp_path / "sos"), "--repeats", "1", "--timed", "--json", str(report_path),
                 *cache, "--no-progress"]) == 0
    report = json.loads(report_path.read_text())
    assert report["classifier"]["trimmed_test_top1_all_frames"] >= 0.5  # trained on the trimmed clips
    policies, cost = report["policies"], report["cost"]
    for name, row in policies.items():
        assert 0 <= row["in_burst"] <= 1
        if name != "oracle":  # it reads the label: no pipeline, no timing
            assert row["seconds_per_video"] > 0 and set(row["stage_seconds"]) >= {"decode_chosen", "classifier"}
    assert "seconds_per_video" not in policies["oracle"]
    assert policies["sosampler"]["gmacs"] > policies["uniform"]["gmacs"] > 0
    assert policies["sosampler"]["gmacs"] == pytest.approx(cost["sosampler"]["sampler_gmacs"] + cost["sosampler"]["classifier_gmacs"])
    assert cost["oracle"]["sampler_gmacs"] > cost["sosampler"]["sampler_gmacs"]
    assert policies["oracle"]["in_burst"] >= policies["uniform"]["in_burst"]
