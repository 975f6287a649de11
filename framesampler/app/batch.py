"""``framesampler batch``: the pipeline over a collection of videos, one JSON line per video.

Each line is the pipeline's ``SampledVideo.summary()`` (chosen frames with index, seconds and score; the
prediction; stage seconds; GMACs), plus ``"label"`` when the manifest gives one, or ``{"video", "error"}``
with the one-line reason a video could not be read. The results file is the state:

- resumable: videos already in it (results or errors) are skipped on a rerun, matched by absolute path
  (``"video"`` is recorded absolute), so a rerun from another folder finds them too;
- nothing torn or doubled after a kill: each line is written by one ``write`` then ``fsync``, and a torn
  last line (a kill inside that write) is dropped when the run starts again. A file that is not a results
  file is refused untouched;
- one run at a time: a run holds ``<out>.lock`` (an advisory ``flock``, removed at the end); a second run on
  the same results file refuses to start.

With ``workers=K`` (at most ``MAX_WORKERS``) the next videos are decoded in K background threads
(``Pipeline.decode``: no network, PyAV releases the GIL while decoding) while the networks run on the
current one (``Pipeline.run``); at most K decoded videos, and about ``MAX_FRAMES_AHEAD`` candidate frames in
all (one video at least), wait in memory. The networks run where, how many frames at a time and in which precision the
pipeline was built with (``load_pipeline(device=, batch_size=, precision=)``; ``framesampler.device``), decoding on
the CPU threads meanwhile.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tqdm import tqdm

from framesampler.app.pipeline import DecodedVideo, Pipeline
from framesampler.constants import MAX_FRAMES_AHEAD, MAX_WORKERS
from framesampler.data.manifest import read_manifest
from framesampler.video.decode import VideoError

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".ts",
                            ".3gp", ".ogv"})
RECORD_START = b'{"video": '  # how every line batch writes begins: a torn last line is a prefix of a record


@dataclass(frozen=True)
class BatchItem:
    video: str
    label: str | None = None


@dataclass
class BatchReport:
    """What one run did: videos classified and failed in this run, and those skipped as already done."""

    done: int = 0
    failed: int = 0
    skipped: int = 0


def batch_items(source: str | os.PathLike) -> list[BatchItem]:
    """The videos of ``source``, as absolute paths: a folder walked for video files (by suffix, sorted; a
    dangling symlink, a loop or a FIFO with such a name is kept, to get its error line), or a manifest
    (``framesampler.data.manifest``: "path label" lines or a path,label CSV; labels go into the results;
    a video listed twice with one label is done once)."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and not p.is_dir())
        if not files:
            raise ValueError(f"{source} holds no video files (looked for {', '.join(sorted(VIDEO_SUFFIXES))})")
        return [BatchItem(os.path.abspath(p)) for p in files]
    return [BatchItem(os.path.abspath(entry.path), entry.label) for entry in read_manifest(source, dedupe=True)]


def finished_videos(out: str | os.PathLike) -> set[str]:
    """The videos already in the results file ``out`` (absolute paths). Every complete line must be a record,
    and what follows the last one a torn record, which is then cut off; any other file is refused untouched."""
    out = Path(out)
    if not out.exists():
        return set()
    if not out.is_file():
        raise ValueError(f"--out {out} is not a file: give the path of a .jsonl results file")
    data = out.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    torn = data[len(complete):]
    refuse = f"{out}{{}} is not a result of framesampler batch: the file was left as it is; use another --out"
    try:
        lines = complete.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(refuse.format(" (not text)")) from None
    videos = set()
    for number, line in enumerate(lines, 1):
        try:
            videos.add(os.path.abspath(json.loads(line)["video"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(refuse.format(f" line {number}")) from None
    if not (torn.startswith(RECORD_START) or RECORD_START.startswith(torn)):
        raise ValueError(refuse.format(f" line {len(lines) + 1}"))
    if torn:
        with out.open("r+b") as file:
            file.truncate(len(complete))
    return videos


@contextmanager
def results_lock(out: Path) -> Iterator[None]:
    """Hold ``<out>.lock`` (``flock``) while a run appends to ``out``; ``ValueError`` if another run holds it."""
    lock = out.with_name(out.name + ".lock")
    while True:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(f"another framesampler batch is writing {out} (it holds {lock}): wait for it to end, "
                             "or give this run another --out") from None
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break  # not a lock file that its last holder removed meanwhile
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def append_line(fd: int, record: dict) -> None:
    """One JSON line written by a single ``write``, then flushed to disk."""
    data = (json.dumps(record) + "\n").encode("utf-8")
    written = os.write(fd, data)
    if written != len(data):
        raise OSError(f"short write to the results file ({written} of {len(data)} bytes): is the disk full?")
    os.fsync(fd)


Records = Callable[[list[BatchItem]], Iterable[dict]]


def run_batch(pipeline: Pipeline | None, source: str | os.PathLike, out: str | os.PathLike, *, workers: int = 0,
              progress: bool = True, records: Records | None = None) -> BatchReport:
    """Classify every video of ``source`` not yet in ``out``, appending one line each (module docstring).
    ``records``: another runner of the same summaries, ``items -> one record per item in any order`` (e.g.
    ``framesampler.integrations.ray.batch_records`` on a Ray cluster); ``pipeline`` is then not used."""
    if not 0 <= workers <= MAX_WORKERS:
        raise ValueError(f"--workers {workers}: use 0..{MAX_WORKERS} (threads decoding the next videos)")
    if records is None:
        if pipeline is None:
            raise ValueError("run_batch needs a pipeline, or records to run the videos elsewhere")
        records = partial(_records, pipeline, workers=workers)
    items = batch_items(source)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with results_lock(out):
        finished = finished_videos(out)
        todo = [item for item in items if item.video not in finished]
        report = BatchReport(skipped=len(items) - len(todo))
        _append(out, todo, report, records(todo), progress)
    return report


def _append(out: Path, todo: list[BatchItem], report: BatchReport, results: Iterable[dict], progress: bool) -> None:
    """Append each of ``results`` (one per item of ``todo``) to ``out``, with its item's label; count them."""
    labels = {item.video: item.label for item in todo if item.label is not None}
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        bar = tqdm(total=len(todo), desc="batch", unit="video", disable=not progress or None, file=sys.stderr)
        for record in results:
            if "error" in record:
                report.failed += 1
            else:
                record |= {"label": labels[record["video"]]} if record["video"] in labels else {}
                report.done += 1
            append_line(fd, record)
            bar.update()
        bar.close()
    finally:
        os.close(fd)


def _records(pipeline: Pipeline, items: list[BatchItem], workers: int) -> Iterator[dict]:
    """Each item's summary, or ``{"video", "error"}``, in order."""
    for item, decoded in _decoded(pipeline, items, workers):
        try:
            if isinstance(decoded, Exception):
                raise decoded
            yield pipeline.run(decoded).summary()
        except (VideoError, ValueError) as error:
            yield {"video": item.video, "error": str(error)}


def _decoded(pipeline: Pipeline, items: list[BatchItem], workers: int) -> Iterator[tuple[BatchItem, DecodedVideo | Exception]]:
    """Each item with its decoded video (or the error decoding raised), in order; with ``workers`` the
    next videos are decoded in background threads meanwhile: ``workers`` of them, fewer when their candidates
    would pass ``MAX_FRAMES_AHEAD`` (one at least)."""
    workers = min(workers, max(1, MAX_FRAMES_AHEAD // max(1, pipeline.T or 1)))
    if workers == 0:
        for item in items:
            yield item, _decode(pipeline, item)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        pending: list[tuple[BatchItem, Future]] = []
        upcoming = iter(items)
        for item in upcoming:
            pending.append((item, pool.submit(_decode, pipeline, item)))
            if len(pending) == workers:
                break
        while pending:
            item, future = pending.pop(0)
            decoded = future.result()
            following = next(upcoming, None)
            if following is not None:
                pending.append((following, pool.submit(_decode, pipeline, following)))
            yield item, decoded


def _decode(pipeline: Pipeline, item: BatchItem) -> DecodedVideo | Exception:
    try:
        return pipeline.decode(item.video)
    except (VideoError, ValueError) as error:
        return error
