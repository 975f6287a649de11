"""The built-in frozen classifier on pixels: a pretrained backbone, a trained head (or ImageNet's), a consensus.

It implements ``framesampler.classifiers.model.Classifier``, as the user's models do."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from framesampler.classifiers.frozen import VideoClassifier
from framesampler.classifiers.pretrained import PretrainedBackbone, imagenet_classes
from framesampler.cost import count_macs


class PixelClassifier:
    """The frozen classifier on pixels: pretrained backbone -> trained head (or ImageNet's) -> consensus."""

    def __init__(self, backbone: PretrainedBackbone, head: VideoClassifier | None = None) -> None:
        self.backbone, self.head = backbone, head
        self.classes = list(head.config.class_names) if head is not None else imagenet_classes()
        self.consensus = head.config.consensus if head is not None else "avg_logits"
        self.kind = "clip" if self.consensus == "clip" else "frame"
        self.size = backbone.resolution
        digest = hashlib.sha256(f"{backbone.name}|{self.size}|{self.consensus}".encode())
        for name, value in sorted((head.state_dict() if head is not None else {}).items()):
            digest.update(name.encode() + value.detach().contiguous().numpy().tobytes())
        self.fingerprint = digest.hexdigest()[:16]

    @torch.no_grad()
    def frame_logits(self, frames: np.ndarray) -> torch.Tensor:
        """Class logits [n, C] of uint8 frames [n, H, W, 3]."""
        if self.head is None:
            return self.backbone.logits(frames)
        return self.head.frame_logits(self.backbone.features(frames))

    @torch.no_grad()
    def logits_and_imagenet(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits [n, C] and the backbone's ImageNet logits [n, 1000] of uint8 frames [n, H, W, 3], the
        backbone run once (SMART's language features read the ImageNet classes)."""
        pooled = self.backbone.features(frames)
        imagenet = self.backbone.imagenet_logits(pooled)
        return (imagenet if self.head is None else self.head.frame_logits(pooled)), imagenet

    @torch.no_grad()
    def clip_logits(self, frames: np.ndarray) -> torch.Tensor:
        """Logits [C] of a clip of uint8 frames [K, H, W, 3] in time order: the clip classifier on it (log
        probabilities, consensus ``"clip"``), or the mean of the frame logits."""
        if self.head is not None and self.kind == "clip":
            return self.head.video_log_probs(self.backbone.features(frames))
        return self.frame_logits(frames).mean(0)

    def macs(self, num_frames: int) -> float:
        """Backbone and head on ``num_frames`` frames."""
        if self.head is not None and hasattr(self.head, "macs"):
            return float(num_frames * (self.backbone.macs_per_frame() + self.head.macs(1)))
        head = count_macs(self.backbone.imagenet_classifier(), torch.zeros(1, self.backbone.out_dim))
        return float(num_frames * (self.backbone.macs_per_frame() + head))
