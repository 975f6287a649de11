"""What a video dataset (``framesampler extract``) was made with: the pipeline's resolutions and
backbones, T and the short-video policy, recorded in the dataset file as ``extract_config``."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields

from framesampler.candidates import MAX_T, ShortPolicy
from framesampler.data.features import read_npz
from framesampler.device import PRECISIONS


@dataclass(frozen=True)
class PipelineConfig:
    """Resolutions and backbones of the two paths (a video dataset records the ones it was made with).

    The sampler's default input, the first 5 of EfficientNet-Lite0's 7 stages at 64 px (112-d, 19.9 M
    MACs, 0.5 ms a frame on 2 CPU cores), is the cheapest that keeps the sampler stage well below the
    classifier's: 4 stages at 128 px cost 5.5 ms a frame, more than the N classified frames for T = 64.
    """

    classifier_resolution: int = 224
    sampler_resolution: int = 64
    sampler_stages: int | None = 5
    backbone: str = "efficientnet_lite0"
    backend: str = "pyav"
    classifier: str = "frame"  # "frame"/"clip": the built-in head on the backbone; else the user's model (its spec)
    classifier_fingerprint: str = ""  # the user's model's (``classifiers.model``): a changed model is a new cache


FORMAT_VERSION = 2  # 2: the candidates' image motion is cached too


@dataclass(frozen=True)
class ExtractConfig(PipelineConfig):
    """What a cached video depends on (the pipeline's resolutions and backbones, T, the short-video
    policy, the networks' ``precision``: ``framesampler.device``); any change gives a new cache folder."""

    T: int = 32
    short_policy: ShortPolicy = "error"
    precision: str = "float32"

    def key(self) -> str:
        settings = asdict(self)
        if self.classifier == "frame":  # the caches written before the user's classifier existed keep their names
            del settings["classifier"], settings["classifier_fingerprint"]
        if self.precision == "float32":  # so do those written before --precision: a bfloat16 cache is another folder
            del settings["precision"]
        text = json.dumps({**settings, "version": FORMAT_VERSION}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def pipeline(self) -> PipelineConfig:
        return PipelineConfig(**{f.name: getattr(self, f.name) for f in fields(PipelineConfig)})

    def __post_init__(self) -> None:
        if isinstance(self.T, int) and self.T > MAX_T:  # checked here: a dataset or checkpoint records it too
            raise ValueError(f"--T {self.T}: give at most {MAX_T} candidates per video")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision {self.precision}: use one of {', '.join(PRECISIONS)}")


def dataset_config(path: str | os.PathLike) -> ExtractConfig | None:
    """The ``ExtractConfig`` a video dataset was made with (None for a plain feature file)."""
    data = read_npz(path, ["extract_config"], what="video dataset")
    if "extract_config" not in data:
        return None
    try:
        return ExtractConfig(**json.loads(str(data["extract_config"])))
    except (TypeError, ValueError) as err:  # an edited or foreign file
        raise ValueError(f"{path}: its extract_config is not one extract writes ({err}); extract the dataset again") from None
