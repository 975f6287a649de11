"""Rebuild either frozen classifier, the per-frame head or the clip transformer, from its saved config."""
from __future__ import annotations

from framesampler.classifiers.clip import CLIP_HEAD, clip_from_saved
from framesampler.classifiers.frozen import VideoClassifier, classifier_from_saved


def any_classifier_from_saved(config: dict, weights: dict) -> VideoClassifier:
    """The frozen classifier of a saved ``ClassifierConfig`` (as a dict) and its state dict, by its head."""
    return (clip_from_saved if config.get("head") == CLIP_HEAD else classifier_from_saved)(config, weights)
