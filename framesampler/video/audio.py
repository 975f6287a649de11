"""A video's audio track: decoded to one mono rate, and cut into log-MEL patches around the candidates.

What SCSampler's audio sampler reads (Korbar et al. 2019, Sec. 3.3.2: "MEL-spectrograms from audio segments
twice as long as the video-clips ... processed using 40 MEL filters"). A candidate here is one frame; the
paper's clips last about 1 s (16 frames at 16 fps), so a candidate's segment is the ``WINDOW`` = 2 s of audio
centred on its time, with the paper's 40 MEL filters. The paper takes 200 time samples per segment (hop
10 ms); this takes 50 (hop 40 ms), a patch of 40 x 50 = 2000 values per candidate, four times fewer to store
and score, which the cached datasets (64 candidates a video) need.

- ``read_audio``: the first audio stream, decoded and resampled (FFmpeg's resampler through PyAV) to mono
  float32 at ``AUDIO_RATE`` = 16 kHz (the UCF101 clips' own rate), sample 0 at the video stream's start;
  ``None`` for a file without an audio stream.
- ``log_mel_spectrogram``: |STFT|^2 (Hann window of ``N_FFT`` = 1024 samples, 64 ms; hop ``HOP`` = 640
  samples, 40 ms; frames centred on ``i * HOP``, zeros beyond the ends) through ``MEL_BANDS`` = 40 triangular
  filters equally spaced on the HTK mel scale ``m = 2595 log10(1 + f / 700)`` from 0 Hz to the Nyquist
  frequency, then ``log(power + EPS)``. Samples are in [-1, 1]; ``EPS`` = 1e-6, so silence is
  ``SILENCE = log(1e-6)`` in every cell.
- ``audio_patches``: per candidate time, the ``MEL_FRAMES`` = 50 spectrogram frames centred on it, flattened
  band-major to ``AUDIO_DIM`` = 2000 values; frames before the start or after the end of the track are
  silence. A video without audio gets silence everywhere: the defined "no audio" value.
"""
from __future__ import annotations

import math
import os

import av
import numpy as np
import torch

from framesampler.video.decode import VideoError

AUDIO_RATE = 16000
WINDOW = 2.0  # seconds of audio per candidate: twice the paper's 1-s clip (Sec. 3.3.2)
N_FFT = 1024
HOP = 640
MEL_BANDS = 40  # Sec. 3.3.2
MEL_FRAMES = round(WINDOW * AUDIO_RATE / HOP)  # 50
AUDIO_DIM = MEL_BANDS * MEL_FRAMES
EPS = 1e-6
SILENCE = math.log(EPS)


def read_audio(path: str | os.PathLike, *, rate: int = AUDIO_RATE) -> np.ndarray | None:
    """The file's first audio stream as mono float32 samples at ``rate``, or ``None`` when it has no audio stream.

    Each decoded frame is mixed to mono at the stream's own rate and placed by its timestamp (sample 0 = the
    video stream's start): a packet that fails to decode (a damaged one, e.g. the first AC-3 packet of
    opencv's Megamind.avi) leaves silence where its samples were, and the rest stay in time. The track is then
    resampled to ``rate`` in one pass (FFmpeg's resampler through PyAV)."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as error:
        raise VideoError(str(path), f"cannot be opened ({error})", "check that the file plays") from None
    with container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        native = stream.codec_context.sample_rate or rate
        video = container.streams.video[0] if container.streams.video else None
        origin = float(video.start_time * video.time_base) \
            if video is not None and video.start_time is not None and video.time_base is not None else 0.0
        mono = av.AudioResampler(format="flt", layout="mono", rate=native)
        pieces, cursor = [], 0  # (first sample, samples) at the native rate
        for packet in container.demux(stream):
            try:
                frames = stream.codec_context.decode(packet)
            except av.FFmpegError:
                continue  # a damaged packet: silence in its place
            for frame in frames:
                at = round((frame.time - origin) * native) if frame.time is not None else cursor
                samples = np.concatenate([out.to_ndarray().reshape(-1) for out in mono.resample(frame)] or [np.zeros(0, np.float32)])
                if at + len(samples) > 0:
                    pieces.append((at, samples))
                cursor = at + len(samples)
    track = np.zeros(max((at + len(samples) for at, samples in pieces), default=0), np.float32)
    for at, samples in pieces:
        track[max(at, 0):at + len(samples)] = samples[max(-at, 0):]
    if native == rate or len(track) == 0:
        return track
    frame = av.AudioFrame.from_ndarray(track[None], format="flt", layout="mono")
    frame.sample_rate = native
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    return np.concatenate([out.to_ndarray().reshape(-1) for out in [*resampler.resample(frame), *resampler.resample(None)]])


def mel_filterbank(*, bands: int = MEL_BANDS, n_fft: int = N_FFT, rate: int = AUDIO_RATE) -> torch.Tensor:
    """[bands, n_fft // 2 + 1] triangular filters, centres equally spaced on the HTK mel scale over
    0 .. rate / 2 (each rises from its left neighbour's centre to 1 at its own, falls to its right's)."""
    mel = np.linspace(0.0, 2595 * np.log10(1 + rate / 2 / 700), bands + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    weights = np.maximum(0.0, np.minimum((freqs - left) / (centre - left), (right - freqs) / (right - centre)))
    return torch.from_numpy(weights).float()


def centre_frequencies(*, bands: int = MEL_BANDS, rate: int = AUDIO_RATE) -> np.ndarray:
    """[bands] each MEL filter's centre frequency in Hz."""
    mel = np.linspace(0.0, 2595 * np.log10(1 + rate / 2 / 700), bands + 2)
    return 700 * (10 ** (mel[1:-1] / 2595) - 1)


def log_mel_spectrogram(samples: np.ndarray, *, rate: int = AUDIO_RATE) -> torch.Tensor:
    """[MEL_BANDS, frames] log-MEL power of ``samples`` (module docstring); frame i is centred on sample
    ``i * HOP``, ``ceil(len / HOP)`` frames."""
    signal = torch.as_tensor(np.asarray(samples, dtype=np.float32))
    count = max(1, math.ceil(len(signal) / HOP))
    padded = torch.nn.functional.pad(signal, (N_FFT // 2, N_FFT // 2 + count * HOP - len(signal)))
    frames = padded.unfold(0, N_FFT, HOP)[:count] * torch.hann_window(N_FFT, periodic=True)
    power = torch.fft.rfft(frames).abs().square()  # [frames, N_FFT // 2 + 1]
    return torch.log(mel_filterbank(rate=rate) @ power.T + EPS)


def audio_patches(samples: np.ndarray | None, times: np.ndarray, *, rate: int = AUDIO_RATE) -> np.ndarray:
    """float32 [len(times), AUDIO_DIM]: the log-MEL patch (``MEL_BANDS`` x ``MEL_FRAMES``, band-major) of the
    ``WINDOW`` seconds centred on each time (seconds); silence outside the track, everywhere when
    ``samples`` is None (no audio)."""
    times = np.asarray(times, dtype=np.float64)
    if samples is None or len(samples) == 0:
        return np.full((len(times), AUDIO_DIM), SILENCE, np.float32)
    spectrogram = log_mel_spectrogram(samples, rate=rate).numpy()
    half = MEL_FRAMES // 2
    padded = np.pad(spectrogram, ((0, 0), (half, MEL_FRAMES)), constant_values=SILENCE)
    first = np.round(times * rate / HOP).astype(np.int64) - half  # the patch's first frame, before padding
    first = np.clip(first, -half, spectrogram.shape[1])
    return np.stack([padded[:, f + half:f + half + MEL_FRAMES].reshape(-1) for f in first]).astype(np.float32)
