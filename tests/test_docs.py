"""Every code snippet of the README and the docs site runs, unless marked ``<!-- docs-test: skip (reason) -->``.

- ``python`` blocks: the runnable blocks of one page run in order as one script (a later block may use an earlier
  one's names), in a fresh interpreter whose working folder is a temporary one holding ``video.mp4`` (a shared video)
  and with ``../shared`` beside it, as the repository has; every block, skipped or not, must compile.
- ``bash`` blocks: each ``framesampler`` command runs the same way; every ``framesampler`` command of every block,
  skipped or not, must parse with the real parser (a renamed flag or command fails here).
- a skip marker must give its reason in parentheses.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLE_VIDEO = SHARED / "data" / "videos" / "mmaction2" / "demo_demo.mp4"
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b(.*?)-->\s*$")
TIMEOUT_S = 120


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    skip: str | None  # the reason, when marked


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a page, each with the skip reason of a marker on the line before it."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = SKIP.search(before)
        found.append(Block(page, text.count("\n", 0, match.start()) + 1, match.group(1).lower(), match.group(2),
                           marker.group(1).strip() if marker else None))
    return found


ALL = [block for page in PAGES for block in blocks(page)]


def commands(code: str) -> list[list[str]]:
    """The ``framesampler`` commands of a bash block, as argument lists (continuation lines joined, comments dropped)."""
    joined = code.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] in ("framesampler", ".venv/bin/framesampler"):
            found.append(words[1:])
    return found


def run(args: list[str], cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "FRAMESAMPLER_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A temporary working folder with ``video.mp4`` in it and ``../shared`` beside it, as the docs assume."""
    work = tmp_path / "work"
    work.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    if SAMPLE_VIDEO.is_file():
        (work / "video.mp4").symlink_to(SAMPLE_VIDEO)
    return work


def test_pages_have_snippets_and_skips_give_reasons():
    assert {block.page.name for block in ALL} >= {"README.md", "getting-started.md", "add-a-sampler.md"}
    for block in ALL:
        if block.skip is not None:
            assert re.fullmatch(r"\(.+\)", block.skip), f"{block.page.name}:{block.line}: give the skip a reason in parentheses"


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == "python"], ids=lambda b: f"{b.page.name}:{b.line}")
def test_python_blocks_compile(block: Block):
    compile(block.code, f"{block.page}:{block.line}", "exec")


@pytest.mark.parametrize("block", [b for b in ALL if b.lang in ("bash", "sh")], ids=lambda b: f"{b.page.name}:{b.line}")
def test_framesampler_commands_parse(block: Block):
    from framesampler.cli import build_parser

    for args in commands(block.code):
        try:
            build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{block.page.name}:{block.line}: `framesampler {shlex.join(args)}` does not parse")


RUNNER = """
import json, os, sys, traceback
failures = []
for page, script in json.loads(sys.argv[1]):
    os.chdir(os.path.dirname(script))
    try:
        with open(script, encoding="utf-8") as f:
            exec(compile(f.read(), script, "exec"), {"__name__": "__main__", "__file__": script})
    except BaseException:
        failures.append(page + ":\\n" + traceback.format_exc(limit=-3))
sys.exit("\\n".join(failures) or None)
"""


def test_python_snippets_run(workdir: Path, tmp_path: Path):
    """Each page's runnable python blocks, as one script in a fresh namespace and working folder of its own; the
    pages share one interpreter (one torch import), so a snippet must not leave state another page depends on."""
    jobs = []
    for page in PAGES:
        code = "\n".join(b.code for b in blocks(page) if b.lang == "python" and b.skip is None)
        if code:
            folder = tmp_path / page.relative_to(ROOT).as_posix().replace("/", "-")
            shutil.copytree(workdir, folder, symlinks=True)
            (folder / "snippets.py").write_text(code, encoding="utf-8")  # a file, so inspect (TorchScript) finds the source
            jobs.append((str(page.relative_to(ROOT)), str(folder / "snippets.py")))
    assert jobs
    if not (workdir / "video.mp4").exists() and any("video.mp4" in Path(script).read_text() for _, script in jobs):
        pytest.skip(f"{SAMPLE_VIDEO} is missing: snippets read a shared video")
    result = run(["-c", RUNNER, json.dumps(jobs)], tmp_path, tmp_path)
    assert result.returncode == 0, f"python snippets failed:\n{result.stderr[-4000:]}"


RUN_BASH = [b for b in ALL if b.lang in ("bash", "sh") and b.skip is None]


@pytest.mark.parametrize("block", RUN_BASH, ids=lambda b: f"{b.page.name}:{b.line}")
def test_bash_blocks_run(block: Block, workdir: Path, tmp_path: Path):
    lines = [line for line in block.code.replace("\\\n", " ").splitlines() if shlex.split(line, comments=True)]
    found = commands(block.code)
    assert found and len(found) == len(lines), (
        f"{block.page.name}:{block.line}: a runnable bash block holds framesampler commands only; "
        "mark it <!-- docs-test: skip (reason) --> otherwise")
    for args in found:
        result = run(["-c", "import sys; from framesampler.cli import main; sys.exit(main())", *args], workdir, tmp_path)
        assert result.returncode == 0, f"`framesampler {shlex.join(args)}` failed:\n{result.stderr[-3000:]}"
