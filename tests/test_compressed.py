"""SCSampler's compressed-domain visual sampler (Korbar et al. 2019, Sec. 3.3.1): the per-candidate vector read
from the bitstream, the ``input`` option and its resolution by the data, training and scoring on that input
only, the missing-input error, its cost, and a pipeline that decodes no candidate's pixels."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from framesampler import Candidates, create_sampler
from framesampler.candidates import Reads, candidate_indices
from framesampler.classifiers.frozen import train_classifier
from framesampler.cost import video_macs
from framesampler.data.features import VideoSet
from framesampler.eval.evaluate import evaluate
from framesampler.learned import TrainSettings
from framesampler.learned.scsampler import SCSampler
from framesampler.learned.train import train_sampler
from framesampler.video import VideoReader
from framesampler.video.bitstream import COMPRESSED_DIM, compressed_vectors, motion_vectors
from tests.conftest import assert_old_cache_entry_gains, assert_trains, tiny_video_set

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucf101-clips"


def test_the_compressed_vector_is_the_motion_frames_map_and_its_relative_coded_size():
    path = CLIPS / "Archery" / "v_Archery_g01_c01.mp4"
    with VideoReader(path) as reader:
        indices = candidate_indices(reader.metadata.num_frames, 8)
        view = motion_vectors(reader, indices)
        vectors = compressed_vectors(reader, indices, view)
        predicted = reader.index.predicted
    with av.open(str(path)) as container:  # the coded sizes by hand: every video packet's bytes, by display order
        packets = sorted((p.pts, p.size) for p in container.demux(video=0) if p.size)
    sizes = np.array([size for _, size in packets])
    assert vectors.shape == (8, COMPRESSED_DIM) == (8, 65) and vectors.dtype == np.float32
    first = int(predicted[np.searchsorted(predicted, indices[3])])  # candidate 3's motion frame: next P-frame
    assert view.frames[3] == first
    np.testing.assert_allclose(vectors[3, :64], view.maps[3].ravel(), rtol=1e-6)
    assert vectors[3, :64].mean() == pytest.approx(view.motion[3], rel=1e-5)  # equal cells: the map averages to it
    assert vectors[3, 64] == pytest.approx(sizes[first] / sizes[predicted].mean(), rel=1e-6)
    assert vectors[:, 64].min() > 0 and vectors[:, :64].max() > 0.1  # an archer moves


def displaced_at_action(rng: np.random.Generator, action: int) -> np.ndarray:
    """Compressed vectors: noise, and a large displacement at the frame of the action."""
    vectors = rng.random((6, COMPRESSED_DIM)) * 0.2
    vectors[action, :64] += 5.0
    return vectors


def tiny_videos(compressed: bool = True) -> VideoSet:
    return tiny_video_set("compressed_frames", displaced_at_action, with_input=compressed)


def test_the_compressed_sampler_trains_and_scores_on_the_compressed_input_only():
    videos = tiny_videos()
    sampler = create_sampler("scsampler", input="compressed", input_dim=COMPRESSED_DIM, num_classes=2, width=16)
    assert sampler.reads == Reads.COMPRESSED and sampler.options["input"] == "compressed"
    assert_trains(sampler, videos)
    rows = videos.refs[0]
    compressed = videos.compressed_frames[rows].numpy()
    scores = sampler.scores(Candidates.of_length(6, features=videos.frames[rows].numpy(), compressed=compressed))
    other = sampler.scores(Candidates.of_length(6, features=np.zeros((6, 4)), compressed=compressed))
    np.testing.assert_array_equal(scores, other)  # the features do not change the scores
    assert not np.allclose(scores, sampler.scores(Candidates.of_length(6, compressed=compressed[::-1].copy())))
    with pytest.raises(ValueError, match="needs candidates.compressed"):
        sampler.select(Candidates.of_length(6, features=np.zeros((6, 4))), 2)


def test_data_without_the_compressed_input_is_refused_in_one_line():
    videos = tiny_videos(compressed=False)
    classifier = train_classifier(videos, epochs=2, heads=("linear",))
    sampler = create_sampler("scsampler", input="compressed", input_dim=COMPRESSED_DIM, num_classes=2)
    expected = r"^tiny.npz has no compressed-domain input: run `framesampler extract` again$"
    with pytest.raises(ValueError, match=expected):
        train_sampler(sampler, lambda epoch: videos, classifier, T=6, settings=TrainSettings(epochs=1), progress=False)
    with pytest.raises(ValueError, match=expected):
        evaluate(videos, classifier, {"sc": sampler}, T=6, N=2, progress=False)


def test_auto_input_is_the_compressed_one_wherever_the_data_carries_it():
    both = {Reads.FEATURES: 112, Reads.COMPRESSED: COMPRESSED_DIM}
    assert SCSampler.data_options({"input_dim": 112}, both) == {"input_dim": COMPRESSED_DIM, "input": "compressed"}
    assert SCSampler.data_options({"input_dim": 4096}, {Reads.FEATURES: 4096}) == {"input_dim": 4096, "input": "features"}
    assert SCSampler.data_options({"input": "features", "input_dim": 112}, both)["input"] == "features"
    assert create_sampler("scsampler", input_dim=8, num_classes=2).options["input"] == "features"  # no data: features
    with pytest.raises(ValueError, match="unknown input 'pixels'"):
        create_sampler("scsampler", input="pixels", input_dim=8, num_classes=2)


def test_the_compressed_sampler_is_charged_its_own_mlp_and_no_backbone():
    compressed = create_sampler("scsampler", input="compressed", input_dim=COMPRESSED_DIM, num_classes=2)
    features = create_sampler("scsampler", input="features", input_dim=112, num_classes=2)
    width, head = 256, 256 * 2  # the visual sampler's AC head: C = 2 class logits
    assert compressed.macs_per_frame() == COMPRESSED_DIM * width + width * width + head  # two layers and the head
    assert features.macs_per_frame() == 112 * width + width * width + head
    cheap, classifier = 19.9e6, 385e6
    on_compressed = video_macs(compressed, num_candidates=64, num_chosen=8, classifier_frame=classifier, cheap_frame=cheap)
    on_features = video_macs(features, num_candidates=64, num_chosen=8, classifier_frame=classifier, cheap_frame=cheap)
    assert on_compressed["sampler"] == 64 * compressed.macs_per_frame()
    assert on_features["sampler"] == 64 * (features.macs_per_frame() + cheap)
    combined = create_sampler("sc_combined", first=compressed, second=features)
    assert combined.reads == Reads.COMPRESSED | Reads.FEATURES
    assert video_macs(combined, num_candidates=64, num_chosen=8, classifier_frame=classifier, cheap_frame=cheap)["sampler"] \
        == on_compressed["sampler"] + on_features["sampler"]


def test_the_pipeline_decodes_only_the_chosen_frames_for_the_compressed_sampler(monkeypatch):
    from framesampler.app.pipeline import Pipeline
    from framesampler.video import decode

    sampler = create_sampler("scsampler", input="compressed", input_dim=COMPRESSED_DIM, num_classes=2)
    pipeline = Pipeline(sampler, T=16, N=4)
    assert pipeline.sampler_backbone is None
    decoded, read = [], decode._PyAVSource.read
    monkeypatch.setattr(decode._PyAVSource, "read", lambda self, wanted, *args: decoded.extend(wanted.tolist()) or read(self, wanted, *args))
    monkeypatch.setattr(decode.VideoReader, "decode", lambda *args: pytest.fail("the candidates were decoded"))
    result = pipeline(CLIPS / "Surfing" / "v_Surfing_g01_c01.mp4")
    assert "; 0 of" in result.motion_source  # every motion frame's vectors read from its packet alone
    assert sorted(decoded) == result.candidates[result.chosen].tolist()  # the 4 chosen frames, for the classifier
    assert len(result.scores) == 16 and result.macs["sampler"] == 16 * sampler.macs_per_frame()


def test_a_cache_entry_from_before_gets_the_compressed_input_added_without_decoding_pixels(tmp_path, monkeypatch):
    fresh = assert_old_cache_entry_gains(("compressed",), tmp_path, monkeypatch)  # an entry written before the key existed
    assert fresh["compressed"].shape == (8, COMPRESSED_DIM)


def test_a_combination_of_learned_samplers_in_experiments_reuses_their_checkpoints(tmp_path, small_features):
    import json

    from framesampler.app.experiments import SC_PIXELS, SECTIONS, Learned, Runner
    from framesampler.app.prepare import DataConfig, prepare

    data = DataConfig(features=str(small_features), length=32, cache_dir=str(tmp_path / "cache"))
    runner = Runner(prepare(data, T=8), data, seeds=1, settings=TrainSettings(epochs=1), out=tmp_path, progress=False)
    spec = Learned("sc_combined", {"first": Learned("scsampler", {"objective": "sal_rank"}), "second": Learned("scsampler")})
    combined = runner.learned(spec, T=8, N=3, seed=0)
    assert combined.first.options["objective"] == "sal_rank" and combined.second.options["objective"] == "ac"
    checkpoints = tmp_path / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["scsampler-T8-objective=sal_rank-s0-paper", "scsampler-T8-s0-paper"]
    config = json.loads((checkpoints / "scsampler-T8-s0-paper" / "config.json").read_text())
    assert config["options"]["input"] == "features"  # auto on a feature file (no bitstream), recorded resolved
    stamp = (checkpoints / "scsampler-T8-s0-paper" / "weights.pt").stat().st_mtime_ns
    runner.learned(Learned("scsampler"), T=8, N=3, seed=0)
    assert (checkpoints / "scsampler-T8-s0-paper" / "weights.pt").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="small.npz has no compressed-domain input: run `framesampler extract` again"):
        runner.learned(Learned("scsampler", {"input": "compressed"}), T=8, N=3, seed=0)
    rows = SECTIONS["sc_pixels"]["sc_pixels"]
    assert list(rows) == ["8/64", "4/64"] and all(c.timed and c.learned == SC_PIXELS for c in rows.values())


@pytest.mark.parametrize("name", ["sosampler", "ocsampler", "smart", "adaframe"])
def test_every_learned_sampler_reads_the_compressed_domain_input(name: str) -> None:
    """input="compressed": f_s reads each candidate's compressed-domain vector (log1p), the data gives its width, and
    the pipeline needs no decoded candidate (``Reads.COMPRESSED`` only among the candidate inputs)."""
    from framesampler.policies.registry import sampler_factory

    options = sampler_factory(name).data_options({"input": "compressed", "input_dim": 112},
                                                 {Reads.FEATURES: 112, Reads.COMPRESSED: 65, Reads.FRAME_VECTORS: 16})
    sampler = create_sampler(name, num_classes=3, **options)
    assert options["input_dim"] == 65 and Reads.COMPRESSED in sampler.reads and Reads.FEATURES not in sampler.reads
    assert not sampler.reads.candidate_input()
    rng = np.random.default_rng(0)
    compressed = rng.random((8, 65))
    candidates = Candidates(np.arange(8) * 3, 24, features=rng.random((8, 112)), compressed=compressed,
                            frame_vectors=rng.random((8, 16)))  # the classifier's vectors (AdaFrame's v_t)
    chosen = sampler.select(candidates, 3)
    assert 1 <= len(chosen) <= 3 and set(chosen) <= set(range(8))
    with pytest.raises(ValueError, match="unknown input"):
        create_sampler(name, num_classes=3, input_dim=65, input="pixels")


def test_the_coded_sizes_reading_trains_on_the_size_column_and_reads_no_motion_vector(monkeypatch):
    """input="sizes": f_s reads only the coded size of each candidate's motion frame (the compressed vector's last
    column), so the pipeline reads the packet index alone: no motion vector, no candidate decoded."""
    from framesampler.app import pipeline as pipeline_module
    from framesampler.app.pipeline import Pipeline
    from framesampler.learned.sosampler import SOSampler
    from framesampler.video import decode

    options = SOSampler.data_options({"input": "sizes", "input_dim": 112}, {Reads.FEATURES: 112, Reads.COMPRESSED: 65})
    assert options["input_dim"] == 1
    sampler = create_sampler("sosampler", num_classes=2, width=16, **options)
    assert Reads.CODED_SIZES in sampler.reads and Reads.COMPRESSED in sampler.reads
    videos = tiny_videos()
    assert videos.input_for(sampler.reads).shape[1] == 1
    assert_trains(sampler, videos)
    compressed = np.random.default_rng(0).random((6, COMPRESSED_DIM))
    other_maps = compressed.copy()
    other_maps[:, :64] = 0
    np.testing.assert_array_equal(sampler.scores(Candidates.of_length(6, compressed=compressed)),
                                  sampler.scores(Candidates.of_length(6, compressed=other_maps)))
    monkeypatch.setattr(pipeline_module, "motion_vectors", lambda *args: pytest.fail("motion vectors were read"))
    monkeypatch.setattr(decode.VideoReader, "decode", lambda *args: pytest.fail("the candidates were decoded"))
    result = Pipeline(sampler, T=16, N=4)(CLIPS / "Surfing" / "v_Surfing_g01_c01.mp4")
    assert result.motion_source.startswith("coded sizes") and len(result.chosen) == 4
