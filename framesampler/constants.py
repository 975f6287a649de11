"""Names, bounds and defaults the command line needs before any work, importable without torch, numpy or a decoder.

The modules that own each value import it from here (``candidates.MAX_T`` is ``constants.MAX_T``), so it is
written once. Sampler names are the built-in registrations (``framesampler.policies.registry``), which need torch to
import: they are listed here, and a test checks that the list and the registry agree.
"""
from __future__ import annotations

import os
from pathlib import Path

# Built-in samplers (framesampler.policies and framesampler.learned; checked against the registry by a test)
SAMPLERS = ("adaframe", "dense", "frameexit", "mgsampler", "ocsampler", "optimal", "oracle", "random", "sc_combined",
            "scsampler", "semi_optimal", "semi_optimal_label", "semi_optimal_max", "smart", "sosampler", "uniform")
TRAINING_FREE = ("uniform", "random", "dense", "frameexit", "mgsampler", "oracle", "semi_optimal_label",
                 "semi_optimal_max")  # what evaluate and demo compare by default, in registration order
LEARNED_SAMPLERS = ("adaframe", "ocsampler", "scsampler", "smart", "sosampler")

REGIMES = ("trimmed", "untrimmed")  # the trimmed clips as they are, or the untrimmed construction
CONSENSUS = ("avg_logits", "avg_probs", "max")  # how per-frame predictions become the video's
BUILT_IN_CLASSIFIERS = ("frame", "clip")  # --classifier names that are not the user's model
CLASSIFIER_KINDS = ("frame", "clip")  # an image model, or a video model taking [1, K, 3, S, S]
RECIPES = ("paper", "short")  # training recipes (framesampler.learned.recipe)
PRECISIONS = ("float32", "bfloat16", "float16")  # how the networks run on the device (framesampler.device.autocast)
DEFAULT_BATCH_SIZE = 32  # frames per forward pass on the device: extraction, the pipeline, the user's classifier
EXPERIMENTS = ("small", "large", "loss", "nt", "peers", "large_peers", "peers_core", "table1", "table2", "pixels",
               "sc_pixels", "pixel_peers", "pixel_large_peers", "smart_pixels", "mg_pixels", "sc_audio",
               "cost")  # framesampler.app.experiments' sections, then cost (checked by a test)
DEFAULT_EXPERIMENTS = ("small", "large", "loss", "nt", "cost")
BACKENDS = ("pyav", "decord", "torchcodec")  # video decoding backends (framesampler.video.decode)
AUGMENT_VIEWS = 4  # augmented views of each training video `extract` caches (Lee et al. 2024 App. A.3)

# Bounds: every number that sizes memory or work is bounded, and the bound is in the flag's help
MAX_T = 4096  # candidates per video (--T): every one is decoded, and kept in memory for a second conversion
MIN_RESOLUTION, MAX_RESOLUTION = 32, 1024  # the frames a backbone reads, pixels (the network downsamples 32x)
MAX_UNTRIMMED_LENGTH = 10000  # frames per untrimmed video (--length)
MAX_WIDTH = 4096  # the encoder's width W (--width)
MAX_WORKERS = 32  # --workers: background decoding threads
MAX_FRAMES_AHEAD = 1024  # candidate frames decoded ahead in all: fewer videos wait at a large T (one at least)
THUMB_PX = 96  # report thumbnails, pixels
MIN_THUMB_PX, MAX_THUMB_PX = 16, 512  # bounds of --thumb-size: every candidate of every video is decoded at it


def default_cache_dir() -> Path:
    """``$FRAMESAMPLER_CACHE`` or ``~/.cache/framesampler``: where trained classifiers and per-video results are kept."""
    return Path(os.environ.get("FRAMESAMPLER_CACHE", Path.home() / ".cache" / "framesampler"))
