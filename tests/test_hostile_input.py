"""Hostile and careless input (issue 24): one test per item, named after it (test_b1_..., test_w13_...).

Each reproduces what went wrong: code run from a file, a script in the report, an input overwritten or cut,
a path outside the output folder, memory without bound, a traceback where one line should say what to do.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from framesampler.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "framesampler"
SCRIPT = "\"'><script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """manifest.txt of 4 tiny synthetic videos (2 classes, 12 frames of 64 px) in videos/."""
    from framesampler.data.synthetic import write_synthetic_videos

    return write_synthetic_videos(tmp_path_factory.mktemp("hostile"), classes=2, videos_per_class=2, num_frames=12, size=64)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


class _Opens:
    """A pickle that calls ``open(path, "w")`` when it is loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


# B1 ---------------------------------------------------------------------------------------------------------

def test_b1_a_resume_file_never_runs_code(tmp_path, capsys):
    from framesampler.learned.train import load_resume_state

    target, state = tmp_path / "x", tmp_path / "ck.resume.pt"
    torch.save({"identity": {}, "log": [], "payload": _Opens(str(target))}, state)
    assert load_resume_state(state, {}) is None
    assert not target.exists(), "loading the resume file ran code from it"
    assert "starting afresh" in one_line_error(capsys)


UNPICKLERS = ("pickle", "_pickle", "cPickle", "dill", "joblib", "cloudpickle")


def _unsafe_loads(source: str, name: str) -> list[str]:
    """``name:line`` of each load in ``source`` that may run code from a file: torch.load without
    weights_only=True, np.load with allow_pickle other than False, any import of a pickle module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{name}:{node.lineno} import {m}" for m in modules if m.split(".")[0] in UNPICKLERS]
        elif isinstance(node, ast.Call):
            call = ast.unparse(node.func)
            given = {k.arg: k.value for k in node.keywords}
            value = {k: v.value if isinstance(v, ast.Constant) else v for k, v in given.items()}
            if (call.split(".")[-1] == "load" and "torch" in call and value.get("weights_only") is not True) or \
                    (re.fullmatch(r"(np|numpy)\.load", call) and "allow_pickle" in given and value["allow_pickle"] is not False):
                found.append(f"{name}:{node.lineno} {call}")
    return found


def test_b1_no_load_in_the_code_can_run_code_from_a_file():
    unsafe = [hit for path in sorted(PACKAGE.rglob("*.py"))
              for hit in _unsafe_loads(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))]
    assert not unsafe, "loads that may run code from a file (use weights_only=True / allow_pickle=False):\n" + "\n".join(unsafe)
    probe = ("import pickle\nfrom dill import loads\ntorch.load(p)\ntorch.load(p, weights_only=False)\n"
             "torch.load(p, weights_only=flag)\nnp.load(p, allow_pickle=True)\ntorch.load(p, weights_only=True)\n"
             "np.load(p, allow_pickle=False)\nnp.load(p)\n")
    assert [hit.split()[0] for hit in _unsafe_loads(probe, "probe")] == [f"probe:{n}" for n in range(1, 7)]
