"""SCSampler's audio sampler (Korbar et al. 2019, Sec. 3.3.2-3.3.3): log-MEL patches checked on tones, the
no-audio value, training and scoring on audio only, its cost, the pipeline that decodes only the chosen frames,
and the combination's fall-back to the visual list when a video has no sound."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from framesampler import Candidates, create_sampler
from framesampler.candidates import Reads
from framesampler.classifiers.frozen import train_classifier
from framesampler.cost import video_macs
from framesampler.data.features import VideoSet
from framesampler.learned import TrainSettings
from framesampler.learned.scsampler import SCSampler, combine_saliency
from framesampler.learned.train import train_sampler
from framesampler.policies.base import top_n_sorted
from framesampler.video.audio import (
    AUDIO_DIM,
    AUDIO_RATE,
    MEL_BANDS,
    MEL_FRAMES,
    SILENCE,
    audio_patches,
    centre_frequencies,
    read_audio,
)
from tests.conftest import assert_old_cache_entry_gains, assert_trains, tiny_video_set

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucf101-clips"


def tone(frequency: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(round(seconds * AUDIO_RATE)) / AUDIO_RATE)).astype(np.float32)


def test_a_tones_patch_peaks_in_the_mel_band_of_its_frequency_and_silence_is_the_floor():
    centres = centre_frequencies()
    assert len(centres) == MEL_BANDS == 40 and centres[0] > 0 and centres[-1] < AUDIO_RATE / 2
    for frequency in (300.0, 1000.0, 4000.0):
        samples = np.concatenate([tone(frequency, 3.0), np.zeros(3 * AUDIO_RATE, np.float32)])  # 3 s tone, 3 s silence
        patch = audio_patches(samples, np.array([1.5]))[0].reshape(MEL_BANDS, MEL_FRAMES)
        assert np.argmax(patch.mean(axis=1)) == np.argmin(np.abs(centres - frequency))  # the nearest centre
        late = audio_patches(samples, np.array([5.5]))[0].reshape(MEL_BANDS, MEL_FRAMES)
        np.testing.assert_allclose(late, SILENCE, atol=1e-4)  # 1.5 s after the tone stops: digital silence
    edge = audio_patches(tone(1000.0, 1.0), np.array([0.0, 1.0]))  # the track's ends: half the window outside it
    half = MEL_FRAMES // 2
    outside = edge[0].reshape(MEL_BANDS, MEL_FRAMES)[:, :half - 1]
    assert (outside == np.float32(SILENCE)).all() and edge[0].reshape(MEL_BANDS, MEL_FRAMES)[:, half + 2:].max() > 0
    none = audio_patches(None, np.array([0.0, 2.0, 7.0]))  # no audio track: the defined silence everywhere
    assert none.shape == (3, AUDIO_DIM) and (none == np.float32(SILENCE)).all()


def test_a_clip_without_an_audio_stream_reads_as_none_and_one_with_it_at_16_khz():
    assert read_audio(CLIPS / "PlayingPiano" / "v_PlayingPiano_g01_c01.mp4") is None
    samples = read_audio(CLIPS / "Archery" / "v_Archery_g01_c01.mp4")
    assert samples.dtype == np.float32 and abs(len(samples) / AUDIO_RATE - 131 / 25) < 0.1  # as long as the video


def test_a_damaged_audio_packet_leaves_silence_in_its_place_and_the_rest_in_time():
    """opencv's Megamind.avi: 48 kHz stereo AC-3 whose first packet (32 ms) does not decode."""
    path = CLIPS.parent / "videos" / "opencv-doc" / "Megamind.avi"
    samples = read_audio(path)
    first = round(0.032 * AUDIO_RATE)  # the second packet's timestamp
    assert (samples[:first - 32] == 0).all() and np.abs(samples[first + 32:first + 800]).max() > 0.01  # resampling blurs 16
    assert abs(len(samples) / AUDIO_RATE - 11.26) < 0.05  # 48 kHz -> 16 kHz keeps the duration


def loud_at_action(rng: np.random.Generator, action: int) -> np.ndarray:
    """Audio patches: noise, and a loud band at the frame of the action."""
    sound = SILENCE + rng.random((6, MEL_BANDS, MEL_FRAMES))
    sound[action, 10:20] += 12.0
    return sound.reshape(6, AUDIO_DIM)


def tiny_videos(audio: bool = True) -> VideoSet:
    return tiny_video_set("audio_frames", loud_at_action, with_input=audio)


def test_the_audio_sampler_trains_and_scores_on_the_audio_only():
    videos = tiny_videos()
    sampler = create_sampler("scsampler", input="audio", input_dim=AUDIO_DIM, num_classes=2, width=16)
    assert sampler.reads == Reads.AUDIO and sampler.options["input"] == "audio"
    assert_trains(sampler, videos)
    audio = videos.audio_frames[videos.refs[0]].numpy()
    scores = sampler.scores(Candidates.of_length(6, features=videos.frames[videos.refs[0]].numpy(), audio=audio))
    np.testing.assert_array_equal(scores, sampler.scores(Candidates.of_length(6, features=np.zeros((6, 4)), audio=audio)))
    assert not np.allclose(scores, sampler.scores(Candidates.of_length(6, audio=audio[::-1].copy())))
    with pytest.raises(ValueError, match="needs candidates.audio"):
        sampler.select(Candidates.of_length(6, features=np.zeros((6, 4))), 2)
    with pytest.raises(ValueError, match=f"input='audio' reads 40 x 50 log-MEL patches .*pass input_dim={AUDIO_DIM}"):
        create_sampler("scsampler", input="audio", input_dim=112, num_classes=2)


def test_data_without_audio_is_refused_in_one_line():
    videos = tiny_videos(audio=False)
    classifier = train_classifier(videos, epochs=2, heads=("linear",))
    sampler = create_sampler("scsampler", input="audio", input_dim=AUDIO_DIM, num_classes=2)
    with pytest.raises(ValueError, match=r"^tiny.npz has no audio: extract videos that have an audio track"):
        train_sampler(sampler, lambda epoch: videos, classifier, T=6, settings=TrainSettings(epochs=1), progress=False)
    both = {Reads.FEATURES: 112, Reads.COMPRESSED: 65, Reads.AUDIO: AUDIO_DIM}
    assert SCSampler.data_options({"input": "audio", "input_dim": 112}, both)["input_dim"] == AUDIO_DIM
    assert SCSampler.data_options({"input_dim": 112}, both)["input"] == "compressed"  # auto: the visual sampler


def test_a_video_without_sound_scores_flat_warns_and_the_combination_takes_the_visual_list():
    sampler = create_sampler("scsampler", input="audio", input_dim=AUDIO_DIM, num_classes=2)
    silent = Candidates.of_length(8, audio=audio_patches(None, np.arange(8.0)))
    with pytest.warns(UserWarning, match="has no audio track"):
        scores = sampler.scores(silent)
    assert np.ptp(scores) == 0
    visual = np.array([0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.0, 0.5])
    for scheme in ("union_list", "convex_score", "intersect_list"):  # the flat list ranks nothing
        np.testing.assert_array_equal(combine_saliency(visual, scores, 4, scheme), top_n_sorted(visual, 4))
    np.testing.assert_array_equal(combine_saliency(visual, visual[::-1], 4, "union_list"), [1, 3, 5, 6])  # K' = 3 of a, then b's best


def test_the_audio_sampler_is_charged_its_network_and_no_backbone():
    sampler = create_sampler("scsampler", input="audio", input_dim=AUDIO_DIM, num_classes=2)
    convs = 40 * 50 * 8 * 9 + 20 * 25 * 16 * 8 * 9 + 10 * 12 * 32 * 16 * 9 + 5 * 6 * 64 * 32 * 9  # 3x3, pooled by 2
    assert sampler.macs_per_frame() == convs + 64 * 256 + 256 * 256 + 256 == 1_908_096
    cost = video_macs(sampler, num_candidates=64, num_chosen=8, classifier_frame=385e6, cheap_frame=19.9e6)
    assert cost["sampler"] == 64 * sampler.macs_per_frame()


@pytest.mark.parametrize("name, sound", [("Surfing/v_Surfing_g01_c01.mp4", True),
                                         ("PlayingPiano/v_PlayingPiano_g01_c01.mp4", False)])
def test_the_pipeline_reads_the_audio_and_decodes_only_the_chosen_frames(monkeypatch, name, sound):
    from framesampler.app.pipeline import Pipeline
    from framesampler.video import decode

    sampler = create_sampler("scsampler", input="audio", input_dim=AUDIO_DIM, num_classes=2)
    pipeline = Pipeline(sampler, T=16, N=4)
    assert pipeline.sampler_backbone is None
    decoded, read = [], decode._PyAVSource.read
    monkeypatch.setattr(decode._PyAVSource, "read", lambda self, wanted, *args: decoded.extend(wanted.tolist()) or read(self, wanted, *args))
    monkeypatch.setattr(decode.VideoReader, "decode", lambda *args: pytest.fail("the candidates were decoded"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pipeline(CLIPS / name)
    assert any("has no audio track" in str(w.message) for w in caught) is not sound
    assert sorted(decoded) == result.candidates[result.chosen].tolist()  # the 4 chosen frames, for the classifier
    assert len(result.scores) == 16 and result.macs["sampler"] == 16 * sampler.macs_per_frame()
    assert bool(np.ptp(result.scores) > 0) is sound


def test_a_cache_entry_from_before_gets_the_audio_added_without_decoding_pixels(tmp_path, monkeypatch):
    fresh = assert_old_cache_entry_gains(("audio", "has_audio", "compressed"), tmp_path, monkeypatch)
    assert fresh["audio"].shape == (8, AUDIO_DIM) and not fresh["has_audio"]  # synthetic videos are silent files


def test_the_sc_audio_section_compares_the_paper_samplers_and_their_union():
    from framesampler.app.experiments import DEFAULT_EXPERIMENTS, SC_AUDIO, SECTIONS, Learned

    rows = SECTIONS["sc_audio"]["sc_audio"]
    assert "sc_audio" not in DEFAULT_EXPERIMENTS and list(rows) == ["8/64", "4/64"]
    assert all(c.timed and c.policies == ("uniform",) and c.learned == SC_AUDIO for c in rows.values())
    assert list(SC_AUDIO) == ["scsampler (features)", "scsampler (compressed)", "scsampler (audio)", "scsampler (AV-union-list)"]
    union = SC_AUDIO["scsampler (AV-union-list)"]
    assert union.options == {"first": Learned("scsampler", {"input": "compressed"}), "second": Learned("scsampler", {"input": "audio"})}


def test_a_dataset_where_no_video_has_audio_carries_no_audio_input(tmp_path):
    from framesampler.data.features import load_feature_file

    base = {"features": np.ones((2, 3, 4), np.float32), "label": np.array([0, 1]), "split": np.array(["train", "test"]),
            "video_id": np.array(["a", "b"]), "class_id": np.array([0, 1]), "class_name": np.array(["x", "y"]),
            "audio": np.full((2, 3, AUDIO_DIM), SILENCE, np.float16)}
    np.savez(tmp_path / "silent.npz", **base, has_audio=np.array([False, False]))
    np.savez(tmp_path / "some.npz", **base, has_audio=np.array([False, True]))
    assert load_feature_file(tmp_path / "silent.npz").audio is None
    assert load_feature_file(tmp_path / "some.npz").audio.shape == (2, 3, AUDIO_DIM)
