"""The settings of ``framesampler construct`` (``framesampler.data.construct`` builds the videos), free of torch,
numpy and a decoder: the command line reads their defaults and bounds before any work."""
from __future__ import annotations

from dataclasses import dataclass

MAX_LENGTH = 3600.0  # seconds per long video
MAX_FPS = 120.0
MAX_SIDE = 1920  # width and height, pixels
MAX_PER_CLIP = 100


@dataclass(frozen=True)
class ConstructConfig:
    """How long videos are built; every field is recorded in ``segments.json``."""

    length: float = 60.0  # seconds per long video
    bursts: int = 2
    gop: float = 4.0  # seconds between keyframes
    width: int = 320
    height: int = 240
    fps: float = 25.0
    seed: int = 0
    per_clip: int = 1  # long videos made from each labeled clip (other placements and background)
    segment: float = 10.0  # longest background segment, seconds
    background_test_fraction: float = 0.3  # of each unlabeled long video, the end kept for test videos
    crf: int = 23
    preset: str = "veryfast"
    audio: bool = True  # mux the sources' audio (AAC, mono, AUDIO_RATE)

    def __post_init__(self) -> None:
        checks = {
            "length": 0 < self.length <= MAX_LENGTH, "bursts": self.bursts >= 1, "gop": self.gop > 0,
            "fps": 0 < self.fps <= MAX_FPS, "width": 16 <= self.width <= MAX_SIDE and self.width % 2 == 0,
            "height": 16 <= self.height <= MAX_SIDE and self.height % 2 == 0,
            "per_clip": 1 <= self.per_clip <= MAX_PER_CLIP, "segment": self.segment > 0,
            "background_test_fraction": 0 < self.background_test_fraction < 1, "crf": 0 <= self.crf <= 51,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid construction setting(s) {', '.join(f'{b}={getattr(self, b)!r}' for b in bad)}: "
                             f"length in (0, {MAX_LENGTH:g}] s, fps in (0, {MAX_FPS:g}], gop, segment > 0; bursts >= 1, "
                             f"per_clip in 1..{MAX_PER_CLIP}; width and height even, in 16..{MAX_SIDE}; "
                             "background_test_fraction in (0, 1); crf in 0..51")

    @property
    def num_frames(self) -> int:
        return max(1, round(self.length * self.fps))

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.gop * self.fps))
