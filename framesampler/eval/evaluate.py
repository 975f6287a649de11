"""The experiment of Lee et al. 2024, Tables 1-2: every sampler against the same frozen classifier.

``run`` takes the test videos and the frozen classifier from ``framesampler.app.prepare.prepare``
(trimmed clips or the untrimmed construction; the classifier trained on the vocabulary's trimmed
training clips, cached on disk), adds any trained checkpoints, and ``evaluate`` runs each sampler on the T uniform candidates of every test video, classifies the N chosen frames
with the classifier's consensus, and reports top-1, mAP, fidelity to pi_o and frames used.
"""
from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
import torch
from tqdm import tqdm

from framesampler.candidates import Candidates, Reads, candidate_indices
from framesampler.classifiers.frozen import VideoClassifier
from framesampler.data.features import VideoSet
from framesampler.eval.metrics import in_burst_fraction, mean_average_precision, sampling_fidelity, top1
from framesampler.policies import Context, Sampler
from framesampler.policies.optimal import OptimalPolicy


@torch.no_grad()
def evaluate(videos: VideoSet, classifier: VideoClassifier, samplers: dict[str, Sampler], *, T: int, N: int,
             seed: int = 0, reference: Sampler | None = None, optimal: list[np.ndarray] | None = None,
             progress: bool = True) -> dict[str, dict]:
    """Per sampler: {"top1", "mAP", "fidelity" (null when it does not pick N), "in_burst" (null without an
    action mask), "frames"}, and "reading" for a sampler whose input depends on the data (``MGSampler.reading``:
    which motion it measured). The prediction is the classifier's on the chosen frames (``subset_log_probs``:
    its consensus, or a clip classifier on them), or the sampler's own where it makes one
    (``Selection.prediction``, AdaFrame's f_p); for the user's clip model (``videos.clip_model``) the model itself on
    the chosen frames as one clip, and pi_o searches through it. Candidates carry a video dataset's stored image motion when
    all of a video's frames are candidates, its stored Eq. 1 motion against each frame's previous video frame (MGSampler's
    ``neighbour_motion``, whatever the candidates), and its compressed-domain vectors and audio patches when a sampler
    reads them (and its language features, SMART's, and the classifier's vectors of the frames, AdaFrame's v_t); a sampler reading ``Reads.MOTION`` (MGSampler ``motion="mv"``) gets the bitstream's motion
    instead (``VideoSet.bitstream_motion``), as the pipeline gives it on a video file.

    Fidelity is measured against ``reference``'s picks (pi_o, ``OptimalPolicy()`` by default); a sampler
    that is the reference object is not run twice. ``optimal``: the reference's picks of these videos from
    an earlier call (reused), or an empty list to receive them. A random sampler draws from its own generator seeded
    with ``seed`` (as ``timed_pipeline``'s), so each sampler's row is the same whichever samplers it is evaluated with.
    """
    consensus = "clip" if videos.clip_model is not None else classifier.config.consensus
    table_logits = classifier.frame_logits(videos.frames)
    reference = reference or OptimalPolicy()
    rngs = {name: np.random.default_rng(seed) for name in samplers}  # each its own: a row does not depend on the others
    probs: dict[str, list[np.ndarray]] = {name: [] for name in samplers}
    chosen: dict[str, list[np.ndarray]] = {name: [] for name in samplers}
    optimal = [] if optimal is None else optimal
    known = len(optimal) == len(videos)
    positions = candidate_indices(videos.length, T)
    compressed = videos.input_for(Reads.COMPRESSED) if any(Reads.COMPRESSED in s.reads for s in samplers.values()) else None
    audio = videos.input_for(Reads.AUDIO) if any(Reads.AUDIO in s.reads for s in samplers.values()) else None
    language = videos.language_frames if any(Reads.LANGUAGE in s.reads for s in samplers.values()) else None
    vectors = any(Reads.FRAME_VECTORS in s.reads for s in samplers.values())  # the classifier's vectors: the frame table
    bitstream_motion = videos.bitstream_motion() if any(Reads.MOTION in s.reads for s in samplers.values()) else None
    for v in tqdm(range(len(videos)), desc="videos", disable=not progress or None, file=sys.stderr):
        rows = torch.from_numpy(videos.refs[v, positions])
        motion = videos.frame_motion[rows.numpy()] if videos.frame_motion is not None and len(positions) == videos.length else None
        candidates = Candidates(positions, videos.length, features=videos.sampler_input[rows].numpy(), motion=motion,
                                neighbour_motion=None if videos.neighbour_motion is None else videos.neighbour_motion[rows.numpy()],
                                compressed=None if compressed is None else compressed[rows].numpy(),
                                audio=None if audio is None else audio[rows].numpy(),
                                language=None if language is None else language[rows].numpy(),
                                frame_vectors=videos.frames[rows].numpy() if vectors else None)
        score = videos.clip_model(v, positions) if videos.clip_model is not None else \
            classifier.subset_log_probs(videos.frames[rows], table_logits[rows])
        context = Context(frame_logits=table_logits[rows], label=int(videos.labels[v]), consensus=consensus,
                          video_log_probs=score)
        if not known:
            optimal.append(reference.select(candidates, N, context=context))
        for name, sampler in samplers.items():
            own = None
            if sampler is reference:
                picked = optimal[v]
            else:
                seen = candidates if bitstream_motion is None or Reads.MOTION not in sampler.reads else \
                    replace(candidates, motion=bitstream_motion[rows.numpy()])
                selection = sampler.choose(seen, N, context=context, rng=rngs[name])
                picked, own = selection.positions, selection.prediction
            chosen[name].append(picked)
            probs[name].append(own if own is not None else score(torch.from_numpy(picked)[None])[0].exp().numpy())
    results = {}
    for name in samplers:
        scores = np.stack(probs[name])
        picks_n = all(len(s) == len(o) for s, o in zip(chosen[name], optimal))
        results[name] = {
            "top1": top1(scores, videos.labels),
            "mAP": mean_average_precision(scores, videos.labels),
            "fidelity": sampling_fidelity(chosen[name], optimal) if picks_n else None,
            "in_burst": None if videos.action_mask is None else in_burst_fraction(chosen[name], videos.action_mask[:, positions]),
            "frames": float(np.mean([len(s) for s in chosen[name]])),
        }
        reading = getattr(samplers[name], "reading", None)  # what an input-dependent sampler read (MGSampler's motion)
        if reading is not None:
            results[name]["reading"] = reading(candidates)
    return results


def summarise(runs: list[dict[str, dict]]) -> dict[str, dict]:
    """Mean over repeated runs of each metric, with its standard deviation as ``<metric>_std``."""
    summary = {}
    for name in runs[0]:
        row: dict = {}
        for metric in ("top1", "mAP", "fidelity", "in_burst", "frames"):
            values = [run[name][metric] for run in runs]
            row[metric] = None if values[0] is None else float(np.mean(values))
            if metric != "frames":
                row[f"{metric}_std"] = None if values[0] is None else float(np.std(values))
        if "reading" in runs[0][name]:
            row["reading"] = runs[0][name]["reading"]
        summary[name] = row
    return summary
