"""The frozen classifier on pixels: a pretrained backbone, a trained head (or ImageNet's), a consensus."""
from __future__ import annotations

import numpy as np
import torch

from framesampler.classifiers.clip import ClipClassifier
from framesampler.classifiers.frozen import FrameClassifier
from framesampler.classifiers.pretrained import PretrainedBackbone, imagenet_classes
from framesampler.cost import count_macs


class PixelClassifier:
    """The frozen classifier on pixels: pretrained backbone -> trained head (or ImageNet's) -> consensus."""

    def __init__(self, backbone: PretrainedBackbone, head: FrameClassifier | ClipClassifier | None = None) -> None:
        self.backbone, self.head = backbone, head
        self.class_names = list(head.config.class_names) if head is not None else imagenet_classes()
        self.consensus = head.config.consensus if head is not None else "avg_logits"

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
        imagenet = self.backbone.classifier(pooled)
        return (imagenet if self.head is None else self.head.frame_logits(pooled)), imagenet

    @torch.no_grad()
    def clip_probs(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities [C] of a clip of uint8 frames [K, H, W, 3] in time order, for a head whose
        frames interact (the clip classifier, consensus ``"clip"``)."""
        return self.head.video_log_probs(self.backbone.features(frames)).exp().numpy()

    def macs_per_frame(self) -> int:
        """Backbone and head on one frame."""
        if self.head is not None and hasattr(self.head, "macs"):
            return self.backbone.macs_per_frame() + self.head.macs(1)
        return self.backbone.macs_per_frame() + count_macs(self.backbone.classifier, torch.zeros(1, self.backbone.out_dim))
