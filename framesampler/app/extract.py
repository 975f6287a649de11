"""Decode and score each video of a collection once; train and evaluate many times on the result.

``extract`` reads a labeled collection (``framesampler.data.manifest``), and for every video: picks T
candidates (``framesampler.candidates``), decodes them at two resolutions, and stores

- ``sampler_features`` [T, D_s]: the sampler's cheap input, a shallow pretrained backbone on low-resolution
  frames (what a learned sampler's heads read, with a temporal shift across candidates);
- ``features`` [T, D_c]: the frozen classifier's input, the full pretrained backbone on the frames at
  classifier resolution (its head is trained on these by ``framesampler.app.prepare.prepare``); or, with the
  user's classifier (``ExtractConfig.classifier``, ``framesampler.classifiers.model``), ``frame_logits`` [T, C]: that
  model's logits on each candidate alone at its own size, run once, batched (pi_s's scores; no head is trained, and a
  constructed folder's source clips are not extracted). The cache folder's name includes the model's fingerprint.
- ``neighbour_motion`` [T]: MGSampler's Eq. 1 at the sampler's resolution, ``sum |I_t - I_{t-1}|`` between each
  candidate and the video frame before it (decoded for this alone), what MGSampler reads by default; ``motion`` [T]
  holds the image differences of consecutive candidates (its first reading);
- ``compressed`` [T, 65]: the compressed-domain vector of each candidate, read from the bitstream without
  decoding it (``framesampler.video.bitstream.compressed_vectors``: its motion frame's motion-vector map and
  coded size), what SCSampler's visual sampler reads;
- ``audio`` [T, 2000] (float16) and ``has_audio`` (a bool): each candidate's log-MEL patch of the 2 s of audio
  around it (``framesampler.video.audio.audio_patches``, from the audio stream alone), what SCSampler's audio
  sampler reads; a video without an audio track gets silence patches and ``has_audio`` False;
- for each training video (``views`` > 0; ``extract --augment-views``, default ``AUGMENT_VIEWS``), K augmented views of
  its candidates (``Extractor.views``: a random-resized crop and a random flip each, Lee et al. 2024 App. A.3), the
  classifier's and the sampler's input of each, in its own cache file beside the video's (``views_path``), gathered
  into the dataset as ``augmented_features`` (``augmented_frame_logits`` for the user's classifier),
  ``augmented_sampler_features`` and ``augmented_video``: what SOSampler trains on.

Each video goes to its own file in the cache, written atomically, under a folder named by a hash of the
settings (``ExtractConfig.key``): a rerun after a kill skips finished videos, a changed setting starts a new
folder, and nothing already cached is ever changed, except that an entry written before the compressed-domain
or audio input or the neighbour motion existed gets it added (``ADDED_LATER``: read from the bitstream and the
audio stream, no pixel decoded again; the neighbour motion decodes the candidates and the frames before them at the
sampler's resolution, no network runs). A video that cannot be read is reported with its
one-line reason and skipped. ``write_dataset`` gathers the videos into one ``.npz`` in the shared feature
format (plus ``sampler_features``, ``motion``, ``neighbour_motion``, ``compressed``, ``audio``, ``has_audio``, ``frame_indices``, ``fps``,
``num_frames``, ``path``), which
``train`` and ``evaluate`` take as ``--features``.

A folder from ``framesampler construct`` (its ``segments.json`` beside the manifest) adds what its ground truth
gives (``extract_dataset``): ``in_burst`` [V, T], whether each candidate lies inside an action burst, and the
source clips of its videos, extracted as they are (``TRIMMED_T`` candidates each) under ``trimmed_*`` keys:
the frozen classifier is trained on those trimmed clips, never on the long videos.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from framesampler.app.pipeline import decode_candidates, previous_frames
from framesampler.candidates import candidate_indices
from framesampler.classifiers.model import BUILT_IN, Classifier, ModelClassifier, check_labels
from framesampler.classifiers.pretrained import LITE0_STAGES, MAX_RESOLUTION, MIN_RESOLUTION, PretrainedBackbone
from framesampler.constants import AUGMENT_VIEWS
from framesampler.data.construct import burst_mask
from framesampler.data.dataset import ExtractConfig
from framesampler.data.features import read_npz
from framesampler.data.manifest import ManifestEntry, check_disjoint, class_names
from framesampler.device import DEFAULT_BATCH_SIZE, DeviceSettings
from framesampler.policies.mgsampler import image_difference, image_motion
from framesampler.storage import atomic_file
from framesampler.video.audio import audio_patches, read_audio
from framesampler.video.bitstream import compressed_vectors, motion_vectors
from framesampler.video.decode import VideoError, VideoReader
from framesampler.video.transforms import crop_resize, random_crop_box


def check_extract_config(config: ExtractConfig) -> None:
    """Refuse settings ``extract`` cannot use, naming the command-line option, before any work."""
    if config.T < 1:
        raise ValueError(f"--T {config.T}: give at least 1 candidate per video")
    for flag, size in (("--classifier-size", config.classifier_resolution), ("--sampler-size", config.sampler_resolution)):
        if not MIN_RESOLUTION <= size <= MAX_RESOLUTION:
            raise ValueError(f"{flag} {size}: give {MIN_RESOLUTION}..{MAX_RESOLUTION} px (the backbone needs at least "
                             f"{MIN_RESOLUTION} px)")
    if config.sampler_stages is not None and not 1 <= config.sampler_stages <= len(LITE0_STAGES):
        raise ValueError(f"--sampler-stages {config.sampler_stages}: the backbone has {len(LITE0_STAGES)} stages; "
                         f"use 1..{len(LITE0_STAGES)} (0: the whole network)")
    if config.short_policy not in ("error", "repeat"):
        raise ValueError(f"--short {config.short_policy!r}: use 'error' or 'repeat'")


def user_classifier(config: ExtractConfig) -> bool:
    """Whether the dataset holds the user's model's logits (not the built-in backbone's features)."""
    return config.classifier not in BUILT_IN


def classifier_key(config: ExtractConfig) -> str:
    """The array of what the classifier reads: ``frame_logits`` for the user's classifier, else ``features``."""
    return "frame_logits" if user_classifier(config) else "features"


def cached_keys(config: ExtractConfig) -> tuple[str, ...]:
    """The arrays of one video's cache entry (``CACHED_KEYS``, with ``classifier_key`` for ``features``)."""
    return tuple(classifier_key(config) if key == "features" else key for key in CACHED_KEYS)


class Extractor:
    """The frozen networks of an ``ExtractConfig``, built once and used for every video: the classifier (the
    built-in backbone, or the user's ``model``) and the sampler's shallow backbone. The T candidates are decoded
    once and converted at both resolutions, exactly as ``Pipeline`` does. The backbones run on ``device``,
    ``batch_size`` frames at a time, in ``config.precision`` (``framesampler.device``); the user's model runs where and
    as it was loaded."""

    def __init__(self, config: ExtractConfig, model: Classifier | None = None, device: str | torch.device = "cpu",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.config, self.model = config, model
        settings: DeviceSettings = {"device": device, "batch_size": batch_size, "precision": config.precision}
        self.classifier_backbone = None if model is not None else \
            PretrainedBackbone(config.backbone, resolution=config.classifier_resolution, **settings)
        self.sampler_backbone = PretrainedBackbone(config.backbone, resolution=config.sampler_resolution,
                                                   stages=config.sampler_stages, **settings)

    def __call__(self, path: Path) -> dict[str, np.ndarray]:
        """The cached arrays of one video; raises ``VideoError`` (one line) when it cannot be read."""
        c = self.config
        with VideoReader(path, backend=c.backend) as reader:
            meta = reader.metadata
            if meta.num_frames < c.T and c.short_policy == "error":
                raise VideoError(path, f"{meta.num_frames} frames, fewer than --T {c.T}",
                                 "extract with a smaller --T, or --short repeat to repeat frames")
            indices = candidate_indices(meta.num_frames, c.T, short_policy=c.short_policy)
            decoded = decode_candidates(reader, indices, keep=True).frames
            assert decoded is not None, "keep=True decodes every candidate"
            full = decoded.to_array(size=c.classifier_resolution, crop=c.classifier_resolution)
            low = decoded.to_array(size=c.sampler_resolution, crop=c.sampler_resolution)
            undecoded = undecoded_inputs(reader, indices, UNDECODED)
            eq1 = neighbour_motion(reader, indices, c.sampler_resolution, low=low)
        classified = {classifier_key(c): self.classify(full)}
        arrays: dict[str, np.ndarray] = {
            "frame_indices": indices,
            "num_frames": np.array(meta.num_frames, dtype=np.int64),
            "fps": np.array(meta.fps, dtype=np.float64),
            **classified,
            "sampler_features": self.sampler_backbone.features(low).numpy().astype(np.float16),
            "motion": image_motion(low).astype(np.float32),
            "neighbour_motion": eq1,
            **undecoded,
        }
        if not all(np.isfinite(arrays[k]).all() for k in (*classified, "sampler_features")):
            raise VideoError(path, "its frames gave non-finite (NaN/inf) features", "check the video; it was not cached")
        return arrays

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """What the classifier reads of each frame at its resolution: the user's model's logits (float32), or the
        built-in backbone's features (float16)."""
        if self.model is not None:
            return self.model.frame_logits(frames).numpy().astype(np.float32)
        assert self.classifier_backbone is not None, "built when no model is given"
        return self.classifier_backbone.features(frames).numpy().astype(np.float16)

    def views(self, path: Path, indices: np.ndarray, count: int) -> dict[str, np.ndarray]:
        """``count`` augmented views of the candidates ``indices`` of a training video (Lee et al. 2024 App. A.3:
        every frame randomly scaled and cropped to the classifier's size, then flipped at random; the sampler reads the
        same crop reduced to its resolution). As mmaction2's ``RandomResizedCrop`` and ``Flip`` do for a clip, one box
        and one flip serve every frame of a view. The draws are seeded by the video's name, size and ``count``, so a
        rerun gives the same views. Returns ``augmented_<classifier key>`` [T, count, D] and
        ``augmented_sampler_features`` [T, count, D_s]; raises ``VideoError`` when the video cannot be read."""
        c = self.config
        seed = hashlib.sha1(f"{path.name}|{path.stat().st_size}|{count}".encode()).hexdigest()[:16]
        rng = np.random.default_rng(int(seed, 16))
        with VideoReader(path, backend=c.backend) as reader:
            decoded = decode_candidates(reader, indices, keep=True).frames
            assert decoded is not None, "keep=True decodes every candidate"
            frames = decoded.to_array()
        classified, cheap = [], []
        for _ in range(count):
            box = random_crop_box(frames.shape[2], frames.shape[1], rng)
            view = crop_resize(frames, box, c.classifier_resolution, flip=bool(rng.random() < FLIP_PROBABILITY))
            classified.append(self.classify(view))
            cheap.append(self.sampler_backbone.features(view).numpy().astype(np.float16))
        arrays = {f"augmented_{classifier_key(c)}": np.stack(classified, axis=1),
                  "augmented_sampler_features": np.stack(cheap, axis=1)}
        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise VideoError(path, "its augmented views gave non-finite (NaN/inf) features", "check the video")
        return arrays


def video_key(path: Path) -> str:
    """A cache file name for a video: its resolved path, size and modification time."""
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def save_npz_atomically(arrays: dict[str, np.ndarray], path: Path) -> None:
    """``np.savez`` to ``path`` through ``framesampler.storage.atomic_file``."""
    with atomic_file(path) as partial, partial.open("wb") as file:
        np.savez(file, allow_pickle=False, **arrays)


CACHED_KEYS = ("frame_indices", "num_frames", "fps", "features", "sampler_features", "motion", "neighbour_motion",
               "compressed", "audio", "has_audio")
UNDECODED = ("compressed", "audio", "has_audio")  # read without decoding a pixel: an older entry gets them added
ADDED_LATER = (*UNDECODED, "neighbour_motion")  # an older entry gets these added (the last decodes 2T small frames)


def neighbour_motion(reader: VideoReader, indices: np.ndarray, size: int, *, low: np.ndarray | None = None) -> np.ndarray:
    """MGSampler's Eq. 1 at the sampler's resolution ``size`` [T] (float32): ``sum |I_t - I_{t-1}|`` between each
    candidate (``low``, its frames at that size, decoded when not given) and the video frame before it."""
    if low is None:
        low = reader.frames(indices, size=size, crop=size)
    previous = reader.frames(previous_frames(indices), size=size, crop=size)
    return image_difference(previous, low).astype(np.float32)


def undecoded_inputs(reader: VideoReader, indices: np.ndarray, keys: tuple[str, ...] | set[str]) -> dict[str, np.ndarray]:
    """The ``keys`` of ``UNDECODED`` for candidates ``indices`` of the video ``reader`` reads: the compressed-domain
    vectors (from the bitstream), the audio patches at the candidates' times ``index / fps`` and ``has_audio``
    (from the audio stream)."""
    arrays = {}
    if "compressed" in keys:
        arrays["compressed"] = compressed_vectors(reader, indices, motion_vectors(reader, indices))
    if {"audio", "has_audio"} & set(keys):
        samples = read_audio(reader.metadata.path)
        arrays["audio"] = audio_patches(samples, np.asarray(indices) / reader.metadata.fps).astype(np.float16)
        arrays["has_audio"] = np.array(samples is not None)
    return arrays
TRIMMED_T = 16  # candidates per source clip of a constructed folder: the frozen classifier's training frames
FLIP_PROBABILITY = 0.5  # mmaction2's Flip (flip_ratio=0.5), Lee et al.'s config


def views_path(target: Path, count: int) -> Path:
    """The cache file of a video's ``count`` augmented views, beside its entry ``target``."""
    return target.with_name(f"{target.stem}.views{count}.npz")


def views_cached(path: Path, video: Path, config: ExtractConfig) -> bool:
    """Whether ``path`` holds a readable cache file of augmented views; an unreadable one (damaged from outside) is
    reported on stderr and made again."""
    if not path.is_file():
        return False
    keys = (f"augmented_{classifier_key(config)}", "augmented_sampler_features")
    try:
        if len(read_npz(path, keys, what="augmented views")) == len(keys):
            return True
    except ValueError:
        pass
    print(f"framesampler: the augmented views {path} of {video} are unreadable; making them again", file=sys.stderr)
    return False


def cached(target: Path, video: Path, config: ExtractConfig) -> bool:
    """Whether ``target`` holds a complete cache entry. One written before the compressed-domain or audio input or
    the neighbour motion existed gets it added (``ADDED_LATER``), read from the video's bitstream and audio stream, and
    the neighbour motion from the candidates and the frames before them at the sampler's resolution. An unreadable one
    (damaged from outside) is reported on stderr and treated as missing, so that the video is extracted again
    (replacing it)."""
    if not target.is_file():
        return False
    try:
        keys = cached_keys(config)
        arrays = read_npz(target, keys, what="cache entry")
        missing = set(keys) - set(arrays)
        if missing and missing <= set(ADDED_LATER):
            with VideoReader(video, backend=config.backend) as reader:
                arrays.update(undecoded_inputs(reader, arrays["frame_indices"], missing))
                if "neighbour_motion" in missing:
                    arrays["neighbour_motion"] = neighbour_motion(reader, arrays["frame_indices"], config.sampler_resolution)
            save_npz_atomically(arrays, target)
        if len(arrays) == len(keys) and all(np.isfinite(arrays[k]).all() for k in (classifier_key(config), "sampler_features")):
            return True
    except ValueError:
        pass
    print(f"framesampler: the cache entry {target} of {video} is unreadable; extracting it again", file=sys.stderr)
    return False


@dataclass
class ExtractReport:
    """Per entry of the manifest(s): the cache file of each video read, and ``(path, reason)`` of each not."""

    done: list[tuple[ManifestEntry, str, Path]]  # entry, split, cache file
    failed: list[tuple[str, str]]
    cache: Path
    config: ExtractConfig
    classifier: dict | None = None  # the user's classifier's identity (``ModelClassifier.identity``)
    views: int = 0  # augmented views per training video (``Extractor.views``), in ``views_path`` of its entry


# (settings, videos) -> (video, its cache arrays or None, the one-line reason it cannot be read or None), any order
Runner = Callable[[ExtractConfig, list[Path]], Iterator[tuple[Path, "dict[str, np.ndarray] | None", "str | None"]]]


def local_runner(model: Classifier | None, device: str | torch.device = "cpu",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> Runner:
    """Extract the videos one after another in this process (the networks built once per call, on ``device``,
    ``batch_size`` frames at a time; the user's ``model`` runs where it was loaded)."""
    def run(config: ExtractConfig, paths: list[Path]) -> Iterator[tuple[Path, dict[str, np.ndarray] | None, str | None]]:
        extractor = Extractor(config, model, device, batch_size)  # invalid settings fail here, before anything is written
        for path in paths:
            try:
                yield path, extractor(path), None
            except VideoError as err:
                yield path, None, str(err)
    return run


def extract(splits: dict[str, list[ManifestEntry]], config: ExtractConfig, *, cache_dir: str | os.PathLike,
            progress: bool = True, model: ModelClassifier | None = None, runner: Runner | None = None,
            views: int = 0, device: str | torch.device = "cpu") -> ExtractReport:
    """Cache every video of every split (``{"train": entries, "test": entries}``); see the module docstring.
    ``views``: augmented views of each ``"train"`` video to cache too (``Extractor.views``, made here whatever the
    runner, on ``device``; a training video whose views cannot be made is reported and skipped like one that cannot be
    read).
    A video in two splits, settings it cannot use, or (with the user's classifier ``model``, whose spec and
    fingerprint ``config`` names) a label that is not one of its classes, or one loaded in another precision than
    ``config.precision``, are refused before any work.
    ``runner`` extracts the videos not cached yet (default: ``local_runner``; ``framesampler.integrations.ray``
    spreads them over a Ray cluster); every entry is written here, atomically, whichever runner made it."""
    check_disjoint(splits)
    check_extract_config(config)
    if user_classifier(config):
        if model is None or model.fingerprint != config.classifier_fingerprint:
            raise ValueError(f"extracting with classifier {config.classifier} needs that model (fingerprint "
                             f"{config.classifier_fingerprint}): pass model=load_classifier(...)")
        if getattr(model, "precision", "float32") != config.precision:
            raise ValueError(f"classifier {config.classifier} was loaded in {getattr(model, 'precision', 'float32')} but "
                             f"the extraction asks for {config.precision}: pass load_classifier(..., "
                             f"precision={config.precision!r})")
        check_labels([entry.label for entries in splits.values() for entry in entries], model)
    cache = Path(cache_dir) / "videos" / config.key()
    reasons: dict[Path, str] = {}
    targets = {}
    for entries in splits.values():
        for entry in entries:
            if entry.path.is_file():
                targets[entry.path] = cache / f"{video_key(entry.path)}.npz"
            else:
                reasons[entry.path] = str(VideoError(entry.path, "no such file", "fix the path in the manifest"))
    todo = [path for path, target in targets.items() if not cached(target, path, config)]
    if todo:
        results = (runner or local_runner(model))(config, todo)
        for path, arrays, reason in tqdm(results, desc="extract", unit="video", total=len(todo),
                                         disable=not progress or None, file=sys.stderr):
            if arrays is None:
                reasons[path] = reason
                continue
            if not (cache / "config.json").is_file():
                with atomic_file(cache / "config.json") as partial:
                    partial.write_text(json.dumps(asdict(config), indent=2))
            save_npz_atomically(arrays, targets[path])
    if views:
        augment = [path for path in dict.fromkeys(entry.path for entry in splits.get("train", []))
                   if path not in reasons and not views_cached(views_path(targets[path], views), path, config)]
        extractor = Extractor(config, model, device) if augment else None
        for path in tqdm(augment, desc="augmented views", unit="video", disable=not progress or None, file=sys.stderr):
            assert extractor is not None, "built when there is a video to augment"
            indices = read_npz(targets[path], ("frame_indices",), what="cache entry")["frame_indices"]
            try:
                save_npz_atomically(extractor.views(path, indices, views), views_path(targets[path], views))
            except VideoError as err:
                reasons[path] = str(err)
    done = [(entry, split, targets[entry.path]) for split, entries in splits.items() for entry in entries
            if entry.path not in reasons]
    failed = [(str(entry.path), reasons[entry.path]) for entries in splits.values() for entry in entries
              if entry.path in reasons]
    return ExtractReport(done, failed, cache, config, model.identity() if model is not None else None, views)


def write_dataset(report: ExtractReport, out: str | os.PathLike, *, trimmed: ExtractReport | None = None,
                  in_burst: np.ndarray | None = None) -> Path:
    """One ``.npz`` of the extracted videos in the shared feature format (class ids 0..K-1 in the order of
    ``class_names``), with a constructed folder's ``in_burst`` and ``trimmed_*`` clips; written atomically."""
    if not report.done:
        reasons = [reason for _, reason in report.failed]
        more = f"; and {len(reasons) - 3} more" if len(reasons) > 3 else ""
        raise ValueError(f"no video could be read, nothing to write: {'; '.join(reasons[:3]) or 'the manifest is empty'}{more}")
    names = report.classifier["classes"] if report.classifier else class_names([entry for entry, _, _ in report.done])
    arrays = {
        **_video_arrays(report, names),
        "class_id": np.arange(len(names), dtype=np.int16 if len(names) < 2 ** 15 else np.int32),
        "class_name": np.array(names),
        "extract_config": np.array(json.dumps(asdict(report.config))),
        **({"classifier": np.array(json.dumps(report.classifier))} if report.classifier else {}),
    }
    if in_burst is not None:
        arrays["in_burst"] = in_burst
    if trimmed is not None:
        arrays.update({f"trimmed_{key}": value for key, value in _video_arrays(trimmed, names).items()})
    if report.views:
        arrays.update(_view_arrays(report))
    out = Path(out)
    save_npz_atomically(arrays, out)
    return out


def _video_arrays(report: ExtractReport, names: list[str]) -> dict[str, np.ndarray]:
    keys = cached_keys(report.config)
    cached = [read_npz(target, keys, what="cache entry") for _, _, target in report.done]
    return {
        **{key: np.stack([c[key] for c in cached])
           for key in (classifier_key(report.config), "sampler_features", "motion", "neighbour_motion", "compressed", "audio",
                       "has_audio", "frame_indices")},
        "num_frames": np.array([c["num_frames"] for c in cached]),
        "fps": np.array([c["fps"] for c in cached]),
        "label": np.array([names.index(entry.label) for entry, _, _ in report.done], dtype=np.int32),
        "split": np.array([split for _, split, _ in report.done]),
        "video_id": np.array([entry.path.stem for entry, _, _ in report.done]),
        "path": np.array([str(entry.path) for entry, _, _ in report.done]),
    }


def _view_arrays(report: ExtractReport) -> dict[str, np.ndarray]:
    """The training videos' augmented views: ``augmented_<classifier key>`` [V_a, T, K, D],
    ``augmented_sampler_features`` [V_a, T, K, D_s] and ``augmented_video`` [V_a], their rows in the dataset."""
    rows = [row for row, (_, split, _) in enumerate(report.done) if split == "train"]
    if not rows:
        return {}
    keys = (f"augmented_{classifier_key(report.config)}", "augmented_sampler_features")
    stored = [read_npz(views_path(report.done[row][2], report.views), keys, what="augmented views") for row in rows]
    return {**{key: np.stack([views[key] for views in stored]) for key in keys},
            "augmented_video": np.array(rows, dtype=np.int64)}


@dataclass
class DatasetReport:
    """What ``extract_dataset`` read and wrote; ``trimmed`` only for a constructed folder."""

    videos: ExtractReport
    out: Path
    trimmed: ExtractReport | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)

    def videos_with_audio(self) -> int:
        """How many of the written videos have an audio track (``has_audio``)."""
        return int(read_npz(self.out, ("has_audio",))["has_audio"].sum())


def construct_segments(manifest: str | os.PathLike) -> Path | None:
    """The ``segments.json`` beside ``manifest`` when it is one that ``framesampler construct`` wrote, else None."""
    segments = Path(manifest).parent / "segments.json"
    return segments if segments.is_file() else None


def extract_dataset(splits: dict[str, list[ManifestEntry]], config: ExtractConfig, out: str | os.PathLike, *,
                    cache_dir: str | os.PathLike, segments: Path | None = None, progress: bool = True,
                    model: ModelClassifier | None = None, label_map: dict[str, str] | None = None,
                    runner: Runner | None = None, views: int = AUGMENT_VIEWS,
                    device: str | torch.device = "cpu") -> DatasetReport:
    """``extract`` then ``write_dataset``; with a constructed folder's ``segments.json``, also the in-burst
    label of every candidate and, for the built-in classifier, the source clips (see the module docstring).
    ``model``: the user's classifier (``config.classifier`` names it); ``label_map``: manifest label -> its class;
    ``views``: augmented views of each training video (0: none), made on ``device``."""
    if label_map:
        splits = {split: [replace(entry, label=label_map.get(entry.label, entry.label)) for entry in entries]
                  for split, entries in splits.items()}
    report = extract(splits, config, cache_dir=cache_dir, progress=progress, model=model, runner=runner, views=views,
                     device=device)
    if segments is None or not report.done:
        return DatasetReport(report, write_dataset(report, out), failed=report.failed)
    listed = json.loads(Path(segments).read_text())["videos"]
    folder = Path(segments).resolve().parent
    in_burst: list[np.ndarray] = []
    clips: dict[str, tuple[str, str]] = {}  # source clip -> (label, split)
    for entry, split, target in report.done:
        name = entry.path.resolve().relative_to(folder).as_posix() if entry.path.resolve().is_relative_to(folder) else None
        if name not in listed:
            raise ValueError(f"{entry.path} is not a video of {segments}: extract the manifests that construct wrote")
        frames = read_npz(target, ("frame_indices",), what="cache entry")["frame_indices"]
        in_burst.append(burst_mask(listed[name]["bursts"], frames))
        clips.setdefault(listed[name]["clip"], (entry.label, split))
    if model is not None:  # the user's classifier already predicts the vocabulary: no head to train on the clips
        return DatasetReport(report, write_dataset(report, out, in_burst=np.stack(in_burst)), failed=report.failed)
    clip_splits = {split: [ManifestEntry(Path(path), label) for path, (label, s) in clips.items() if s == split]
                   for split in splits}
    trimmed = extract({split: entries for split, entries in clip_splits.items() if entries},
                      replace(config, T=TRIMMED_T, short_policy="repeat"), cache_dir=cache_dir, progress=progress,
                      runner=runner)
    if not trimmed.done:
        raise ValueError(f"none of the source clips listed in {segments} could be read: the classifier has no training data")
    written = write_dataset(report, out, trimmed=trimmed, in_burst=np.stack(in_burst))
    return DatasetReport(report, written, trimmed, report.failed + trimmed.failed)


def folder_dataset(folder: str | os.PathLike, *, T: int, cache_dir: str | os.PathLike,
                   progress: bool = True) -> tuple[Path, list[tuple[str, str]]]:
    """The video dataset of a ``framesampler construct`` folder at T candidates, ``folder/dataset-T<T>.npz``,
    extracted (``extract_dataset``) when it is not there yet; and the videos skipped doing so."""
    from framesampler.data.manifest import read_manifest

    folder = Path(folder)
    out = folder / f"dataset-T{T}.npz"
    if out.is_file():
        return out, []
    if not (folder / "segments.json").is_file():
        raise ValueError(f"{folder} is not a folder from `framesampler construct` (no segments.json): pass its folder "
                         "or a video dataset (.npz) from `framesampler extract`")
    splits = {split: read_manifest(folder / f"{split}.txt") for split in ("train", "test")}
    report = extract_dataset(splits, ExtractConfig(T=T), out, cache_dir=cache_dir, segments=folder / "segments.json",
                             progress=progress)
    return out, report.failed
