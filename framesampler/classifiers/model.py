"""The user's frozen classifier f_c: one small protocol, and ``load_classifier(spec)`` for every kind of model.

"f_c can be any visual recognition model, such as a 2D or 3D CNN, or a Transformer, pretrained and frozen"
(Lee et al., BMVC 2024, App. A.1): pi_s scores "each frame as a single-frame video clip" with it (Sec. 4.1) and
SOSampler distils its preferences. Everything above this layer speaks only ``Classifier``:

- ``frame_logits(frames)``: uint8 RGB frames ``[n, S, S, 3]`` -> logits ``[n, C]``, each frame alone (a clip model
  sees each as a one-frame clip, repeated to its input length);
- ``clip_logits(frames)``: the frames ``[K, S, S, 3]`` of one clip, in time order -> logits ``[C]`` (a frame model:
  the mean of its frame logits, TSN's average consensus; a clip model: the model on the clip);
- ``classes``, ``size`` (S), ``kind`` (``"frame"`` or ``"clip"``), ``fingerprint`` and ``macs(num_frames)``.

The preprocessing contract, exactly (write a wrapper against it): the pipeline decodes each chosen frame, resizes
its **shorter side to S** (antialiased bilinear: FFmpeg's swscale in the decoder) and takes the **centre S x S
crop**; the frames reach the model as **float32 ``[n, 3, S, S]``, RGB channel order, values in [0, 1]** (pixel / 255),
no mean or std applied. It must return **logits ``[n, C]``** (any real numbers; softmax is applied by framesampler).
A clip model (``kind="clip"``) gets **``[1, K, 3, S, S]``** (Hugging Face's video layout) and returns ``[1, C]``.
A Hugging Face directory is normalised with its own processor config instead (its ``image_mean``/``image_std``
after ``rescale_factor``), at its own size.

``spec`` (``--classifier``): a TorchScript file (``.pt``, ``.ts``: ``torch.jit.load``), a ``torch.export`` program
(``.pt2``), a Hugging Face model directory (``config.json`` + weights; ``AutoModelForImageClassification`` or
``AutoModelForVideoClassification``, never the network), or ``package.module:function`` returning an ``nn.Module``
with the contract above. These are the user's own models: loading one runs its code, as the user asked
(TorchScript and ``torch.export`` files hold no Python; a callable is the user's Python by definition).
Class names: ``PATH.classes.txt`` or ``PATH-without-suffix.classes.txt`` beside a file (one per line),
``config.id2label`` for a Hugging Face model, a ``classes`` attribute of a callable's module, or ``classes=``.
"""
from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from framesampler.classifiers.pretrained import MAX_RESOLUTION
from framesampler.constants import BUILT_IN_CLASSIFIERS as BUILT_IN
from framesampler.constants import CLASSIFIER_KINDS as KINDS
from framesampler.cost import aten_macs
from framesampler.device import DEFAULT_BATCH_SIZE, autocast, check_batch_size, check_precision, resolve_device
from framesampler.video.transforms import center_crop, resize_short_side

PROBE_FRAMES = 2


@runtime_checkable
class Classifier(Protocol):
    """The frozen classifier f_c as the pipeline, extraction and evaluation see it."""

    classes: list[str]
    size: int
    kind: str
    fingerprint: str

    def frame_logits(self, frames: np.ndarray) -> torch.Tensor: ...

    def clip_logits(self, frames: np.ndarray) -> torch.Tensor: ...

    def macs(self, num_frames: int) -> float: ...


@dataclass
class Preprocess:
    """uint8 RGB ``[n, H, W, 3]`` -> float ``[n, 3, S, S]``: shorter side to S, centre crop, / 255, then
    ``(x - mean) / std`` per channel (mean 0, std 1 for the TorchScript contract)."""

    size: int
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __call__(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        pixels = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
        if pixels.dim() != 4 or pixels.shape[-1] != 3 or pixels.dtype != torch.uint8:
            raise ValueError(f"expected uint8 RGB frames [n, H, W, 3], got {pixels.dtype} {tuple(pixels.shape)}")
        x = center_crop(resize_short_side(pixels, self.size), self.size).permute(0, 3, 1, 2).float() / 255.0
        mean, std = torch.tensor(self.mean).view(1, 3, 1, 1), torch.tensor(self.std).view(1, 3, 1, 1)
        return (x - mean) / std


class ModelClassifier:
    """A user's model behind ``Classifier``. ``forward`` maps the preprocessed float batch to logits:
    ``[n, 3, S, S] -> [n, C]`` for a frame model, ``[1, L, 3, S, S] -> [1, C]`` for a clip model, whose clips are
    resampled to ``clip_length`` frames when it has a fixed input length (each frame repeated; ``clip_note``). It runs
    on ``device``, ``batch_size`` frames at a time, under ``framesampler.device.autocast`` in ``precision``; its
    logits come back as float32 on the CPU."""

    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor], *, classes: list[str], preprocess: Preprocess,
                 kind: str, fingerprint: str, spec: str, clip_length: int | None = None, gmacs: float | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, device: torch.device = torch.device("cpu"),
                 precision: str = "float32") -> None:
        if kind not in KINDS:
            raise ValueError(f"classifier kind {kind!r}: use one of {', '.join(KINDS)}")
        self.forward, self.classes, self.preprocess, self.kind = forward, list(classes), preprocess, kind
        self.device, self.precision = device, check_precision(precision, device)
        self.size, self.fingerprint, self.spec, self.clip_length = preprocess.size, fingerprint, spec, clip_length
        self.batch_size, self.consensus = check_batch_size(batch_size), "avg_logits" if kind == "frame" else "clip"
        self.gmacs = gmacs
        self._frame_macs = None if gmacs is None else gmacs * 1e9

    def identity(self) -> dict:
        """What a dataset and a checkpoint record of the classifier (checked when either is used with one)."""
        return {"spec": self.spec, "fingerprint": self.fingerprint, "classes": self.classes, "size": self.size,
                "kind": self.kind, "gmacs": self.gmacs}

    @property
    def clip_note(self) -> str | None:
        """How a clip is fed to a clip model with a fixed input length (None for a frame model)."""
        if self.kind != "clip" or self.clip_length is None:
            return None
        return f"each clip resampled to the model's {self.clip_length} input frames (frames repeated)"

    def _clip_input(self, x: torch.Tensor) -> torch.Tensor:
        """[K, 3, S, S] -> [1, L, 3, S, S]: nearest resampling to the model's length (frame i at place floor(i K / L))."""
        if self.clip_length is not None and len(x) != self.clip_length:
            x = x[torch.arange(self.clip_length) * len(x) // self.clip_length]
        return x[None]

    @torch.no_grad()
    def _run(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision):
            out = self.forward(x.to(self.device))
        out = getattr(out, "logits", out)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"classifier {self.spec} returned {type(out).__name__}, not a logits tensor [n, C]")
        return out.float().cpu()

    def _check(self, logits: torch.Tensor, n: int) -> torch.Tensor:
        if logits.shape != (n, len(self.classes)):
            raise ValueError(f"classifier {self.spec} gave output of shape {tuple(logits.shape)} for {n} frame(s); the "
                             f"contract is logits [n, C] with C = {len(self.classes)} classes ({_shown(self.classes)})")
        if not torch.isfinite(logits).all():
            raise ValueError(f"classifier {self.spec} gave NaN or inf logits: check the model and its preprocessing")
        return logits

    def frame_logits(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Logits [n, C] of each uint8 frame [n, H, W, 3] alone (a clip model: a one-frame clip each)."""
        outputs = []
        for start in range(0, len(frames), self.batch_size):
            x = self.preprocess(frames[start:start + self.batch_size])
            if self.kind == "frame":
                outputs.append(self._check(self._run(x), len(x)))
            else:
                outputs.extend(self._check(self._run(self._clip_input(x[i:i + 1])), 1) for i in range(len(x)))
        return torch.cat(outputs) if outputs else torch.empty(0, len(self.classes))

    def clip_logits(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Logits [C] of one clip of uint8 frames [K, H, W, 3] in time order."""
        if self.kind == "frame":
            return self.frame_logits(frames).mean(0)
        return self._check(self._run(self._clip_input(self.preprocess(frames))), 1)[0]

    def macs(self, num_frames: int) -> float:
        """MACs of classifying ``num_frames`` frames as one video (a frame model: each frame; a clip model: one
        clip of them, the same for any count when it resamples to a fixed length), counted once by
        ``FlopCounterMode`` on a probe input, or from the GMACs per frame (per clip) the user stated."""
        if self._frame_macs is None:
            probe = torch.zeros(1, 3, self.size, self.size, device=self.device)
            try:
                self._frame_macs = aten_macs(self.forward, self._clip_input(probe) if self.kind == "clip" else probe)
            except Exception as err:  # the counter cannot trace every model; the user can state the cost
                raise ValueError(f"cannot count the MACs of classifier {self.spec} ({type(err).__name__}: {err}): "
                                 "state its cost per frame with --classifier-gmacs") from None
        if self.kind == "clip" and self.clip_length is not None:
            return float(self._frame_macs)  # every clip is resampled to the model's fixed length: one clip's cost
        return float(self._frame_macs * num_frames)


def clip_subsets(model: Classifier, path: str, frame_indices: np.ndarray, *,
                 backend: str = "pyav") -> Callable[[torch.Tensor], torch.Tensor]:
    """``subsets [S, K] -> log probs [S, C]`` of one video's candidates ``frame_indices`` through a clip model itself:
    the candidates are decoded again at the model's size on first use (once per video), each subset (positions in
    time order) is one clip. What ``evaluate`` uses for a clip model's predictions and pi_o's search."""
    from framesampler.video.decode import VideoReader

    frames: np.ndarray | None = None

    def score(subsets: torch.Tensor) -> torch.Tensor:
        nonlocal frames
        if frames is None:
            with VideoReader(path, backend=backend) as reader:
                frames = reader.frames(np.asarray(frame_indices), size=model.size, crop=model.size)
        return torch.stack([torch.log_softmax(model.clip_logits(frames[s.numpy()]), -1) for s in subsets])

    return score


def _shown(names: list[str], limit: int = 8) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def digest(paths: list[Path], settings: dict) -> str:
    """sha256 (16 hex digits) of the files' bytes and the settings: a changed model never matches."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in sorted(paths):
        h.update(path.name.encode())
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def _classes_beside(path: Path) -> list[str] | None:
    for candidate in (path.with_name(path.name + ".classes.txt"), path.with_suffix(".classes.txt")):
        if candidate.is_file():
            names = [line.strip() for line in candidate.read_text(encoding="utf-8").splitlines() if line.strip()]
            if names:
                return names
    return None


def _check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= MAX_RESOLUTION:  # bounds a batch's memory
        raise ValueError(f"--classifier-size {size}: give the model's input side in pixels, 16..{MAX_RESOLUTION}")
    return size


def _file_model(path: Path, device: torch.device) -> nn.Module:
    try:
        if path.suffix == ".pt2":
            return torch.export.load(str(path)).module().to(device)
        model = torch.jit.load(str(path), map_location=device)
    except Exception as err:  # torch raises many unrelated types for a file that is not a model
        kind = "torch.export program (.pt2)" if path.suffix == ".pt2" else "TorchScript module"
        raise ValueError(f"--classifier {path} is not a {kind} ({type(err).__name__}); export your model with "
                         f"{'torch.export.save' if path.suffix == '.pt2' else 'torch.jit.script/trace(...).save'}") from None
    return model.eval()


def _callable_model(spec: str) -> nn.Module:
    module_name, _, function = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"--classifier {spec}: cannot import {function!r} from {module_name!r} ({err}); give "
                         "package.module:function of an importable function returning a torch.nn.Module") from None
    model = factory()
    if not isinstance(model, nn.Module):
        raise ValueError(f"--classifier {spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def _module_fingerprint(model: nn.Module, settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _hf_classifier(directory: Path, *, classes: list[str] | None, gmacs: float | None, device: torch.device,
                   batch_size: int, precision: str) -> ModelClassifier:
    """A Hugging Face image or video classification model from a local directory, preprocessed by its own
    processor config (``preprocessor_config.json``: ``crop_size`` or ``size``, ``image_mean``, ``image_std``,
    ``rescale_factor``; without one: ``config.image_size``, mean 0.5, std 0.5)."""
    try:
        import transformers
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES,
            MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES,
        )
    except ImportError:
        raise ValueError(f"--classifier {directory} is a Hugging Face directory: install the extra with "
                         "pip install 'framesampler[hf]'") from None
    try:
        config = transformers.AutoConfig.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ValueError(f"--classifier {directory}: not a readable Hugging Face model directory ({err}); give a "
                         "folder with config.json and the weights (save_pretrained)") from None
    auto: type[transformers.AutoModelForVideoClassification | transformers.AutoModelForImageClassification]
    if config.model_type in MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES:
        kind, auto = "clip", transformers.AutoModelForVideoClassification
    elif config.model_type in MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES:
        kind, auto = "frame", transformers.AutoModelForImageClassification
    else:
        raise ValueError(f"--classifier {directory} is a {config.model_type!r} model, not an image or video "
                         "classification model: give one saved from *ForImageClassification or *ForVideoClassification")
    try:
        model = auto.from_pretrained(directory, local_files_only=True).eval().to(device)
    except (OSError, ValueError) as err:
        raise ValueError(f"--classifier {directory}: its weights cannot be loaded ({err})") from None
    processor_file = directory / "preprocessor_config.json"
    processor: dict[str, Any] = json.loads(processor_file.read_text()) if processor_file.is_file() else {}
    box = processor.get("crop_size") or processor.get("size") or {}
    box = {"height": box, "width": box} if isinstance(box, int) else box
    side = box.get("height") or box.get("shortest_edge") or getattr(config, "image_size", None) or 224
    size = side if isinstance(side, int) else side[0]
    scale = processor.get("rescale_factor", 1 / 255) * 255
    mean = [m / scale for m in processor.get("image_mean", [0.5] * 3)]
    std = [s / scale for s in processor.get("image_std", [0.5] * 3)]
    names = [config.id2label[i] for i in range(config.num_labels)] if classes is None else classes
    files = [p for p in directory.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".bin")]
    settings = {"size": size, "mean": mean, "std": std, "kind": kind, "classes": names}
    return ModelClassifier(lambda x: model(pixel_values=x), classes=names, preprocess=Preprocess(_check_size(size), tuple(mean),
                           tuple(std)), kind=kind, fingerprint=digest(files, settings), spec=str(directory),
                           clip_length=getattr(config, "num_frames", None) if kind == "clip" else None, gmacs=gmacs,
                           batch_size=batch_size, device=device, precision=precision)


def load_classifier(spec: str, *, size: int | None = None, classes: list[str] | None = None, kind: str | None = None,
                    gmacs: float | None = None, probe: bool = True, expect: str | None = None,
                    device: str | torch.device = "cpu", batch_size: int = DEFAULT_BATCH_SIZE,
                    precision: str = "float32") -> ModelClassifier:
    """The user's classifier named by ``spec`` (see the module docstring), checked on a probe batch before any
    work: its output must be finite logits ``[n, C]`` with C the number of class names. ``size``: the input side
    S (default 224; a Hugging Face model brings its own); ``kind``: ``"frame"`` (default) or ``"clip"`` for a
    TorchScript, export or callable video model; ``gmacs``: its cost per frame where counting is impossible;
    ``expect``: the fingerprint a dataset or checkpoint recorded for it (a changed model is refused); ``device``: where
    it runs (``framesampler.device.resolve_device``; frames go there ``batch_size`` at a time, logits come back to
    the CPU); ``precision``: float32 (default), or bfloat16 / float16 under ``torch.autocast`` (``check_precision``)."""
    device = resolve_device(device)
    check_precision(precision, device)
    check_batch_size(batch_size)
    if spec in BUILT_IN:
        raise ValueError(f"--classifier {spec} is built in: framesampler trains its head on a video dataset; "
                         "load_classifier is for your own model (a file, a directory or package.module:function)")
    path = Path(spec)
    if path.exists():  # recorded absolute, so a dataset or checkpoint finds it from any folder
        spec = str(path.resolve())
        path = Path(spec)
    if path.is_dir():
        model = _hf_classifier(path, classes=classes, gmacs=gmacs, device=device, batch_size=batch_size,
                               precision=precision)
    else:
        if path.suffix in (".pt", ".ts", ".pt2", ".jit"):
            if not path.is_file():
                raise FileNotFoundError(f"--classifier {spec}: no such file")
            module, files, origin = _file_model(path, device), [path], path
        elif ":" in spec and not path.exists():
            module, files, origin = _callable_model(spec).to(device), [], None
        else:
            raise ValueError(f"--classifier {spec}: not a model; give frame, clip, a TorchScript file (.pt, .ts), a "
                             "torch.export file (.pt2), a Hugging Face model directory, or package.module:function")
        module_kind = str(kind or getattr(module, "framesampler_kind", "frame"))  # ModelClassifier checks it
        names = classes or getattr(module, "classes", None) or (_classes_beside(origin) if origin else None)
        if not names:
            where = f"{origin.with_suffix('.classes.txt')} (one name per line) or " if origin else "a `classes` attribute or "
            raise ValueError(f"--classifier {spec}: no class names; give {where}--classes A,B,C")
        side = _check_size(size or getattr(module, "framesampler_size", 224))
        settings = {"size": side, "kind": module_kind, "classes": list(names), "spec": None if files else spec}
        fingerprint = digest(files, settings) if files else _module_fingerprint(module, settings)
        model = ModelClassifier(module, classes=list(names), preprocess=Preprocess(side), kind=module_kind, fingerprint=fingerprint,
                                spec=spec, clip_length=getattr(module, "framesampler_clip_length", None), gmacs=gmacs,
                                batch_size=batch_size, device=device, precision=precision)
    if expect is not None and model.fingerprint != expect:
        raise ValueError(f"classifier {spec} has changed since it was recorded (fingerprint {model.fingerprint}, recorded "
                         f"{expect}): restore it, or extract and train again with the new one")
    if probe:
        try:
            model.frame_logits(np.full((PROBE_FRAMES, model.size, model.size, 3), 128, dtype=np.uint8))
        except ValueError:
            raise
        except Exception as err:  # the model's own failure on a contract-shaped input
            raise ValueError(f"classifier {spec} failed on a probe batch of {PROBE_FRAMES} frames [n, 3, {model.size}, "
                             f"{model.size}] ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}): check "
                             "it takes float RGB in [0, 1] at --classifier-size") from None
    return model


def load_recorded(identity: dict, *, device: str | torch.device = "cpu", probe: bool = True,
                  batch_size: int = DEFAULT_BATCH_SIZE, precision: str = "float32") -> ModelClassifier:
    """The classifier a dataset or checkpoint recorded (``ModelClassifier.identity``), loaded from its spec with its
    recorded settings; refused in one line when the model there has changed since (another fingerprint)."""
    return load_classifier(identity["spec"], size=identity["size"], classes=identity["classes"], kind=identity["kind"],
                           gmacs=identity.get("gmacs"), expect=identity["fingerprint"], device=device, probe=probe,
                           batch_size=batch_size, precision=precision)


def check_labels(labels: list[str], classifier: Classifier, label_map: dict[str, str] | None = None) -> list[str]:
    """The classifier class of each manifest label (through ``label_map`` when given); a label the classifier does
    not have is an error naming it and the classifier's classes."""
    mapped = [(label_map or {}).get(label, label) for label in labels]
    unknown = sorted({label for label, name in zip(labels, mapped) if name not in classifier.classes})
    if unknown:
        raise ValueError(f"label(s) {', '.join(unknown)} are not classes of the classifier ({_shown(classifier.classes)}): "
                         "rename them in the manifest or map them with --label-map FILE (lines 'label,class')")
    return mapped


def read_label_map(path: str | Path) -> dict[str, str]:
    """``label,class`` lines (or tab-separated) -> {label: class}."""
    mapping = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        label, sep, name = line.replace("\t", ",").partition(",")
        if not sep or not label.strip() or not name.strip():
            raise ValueError(f"--label-map {path} line {number}: write 'label,class', got {line!r}")
        mapping[label.strip()] = name.strip()
    return mapping

