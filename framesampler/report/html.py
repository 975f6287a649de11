"""One self-contained HTML page over the results ``sample``, ``batch`` and ``evaluate`` write.

- A per-video summary (``sample --json``, or one line of ``batch``'s JSONL): the T candidates as
  thumbnails decoded from the video named in it, the N chosen highlighted, each tile with its frame
  index, time and the sampler's score; the prediction (and the true label where the record has one),
  stage times and GMACs. A line ``{"video", "error"}`` shows its reason.
- An evaluation report (``evaluate --json``; ``demo --json`` holds one per regime): the per-policy table,
  and top-1 against seconds per video when the report has them.
- A comparison (``demo``'s long videos): one video's summaries by several samplers side by side (``samplers``), each
  with a timeline of the video (its action ``bursts``, ``[first, last]`` frames, shaded; the chosen frames ticked)
  and the chosen frames as thumbnails (those inside a burst marked), the prediction against the true ``label``.

Everything is inline: thumbnails and plots as ``data:`` URIs, CSS in the page, no script, font, or
other file referenced, so the page opens anywhere without a server.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from framesampler.candidates import MAX_T
from framesampler.constants import MAX_THUMB_PX, MIN_THUMB_PX, THUMB_PX
from framesampler.storage import atomic_file

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px} h2{font-size:18px;margin:28px 0 4px} h3{font-size:15px;margin:18px 0 6px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 16px;margin:16px 0}
.meta{color:#555;font-size:13px;margin:2px 0}
.grid{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0}
.tile{margin:0;padding:3px;border:2px solid #ccc;border-radius:4px;background:#f4f4f4;font-size:11px;text-align:center}
.tile img{display:block;height:72px;width:auto}
.tile.chosen{border:4px solid #e6550d;background:#fdebd9;font-weight:bold}
.tile.action{border-color:#1a7f37;background:#e3f4e8}
.pair{display:flex;flex-wrap:wrap;gap:16px} .side{flex:1 1 420px;min-width:0}
.timeline{position:relative;height:14px;background:#e4e4e4;border-radius:3px;margin:6px 0}
.timeline .burst{position:absolute;top:0;bottom:0;background:#7cc48c}
.timeline .pick{position:absolute;top:-3px;bottom:-3px;width:3px;margin-left:-1px;background:#e6550d}
.tile .missing{display:block;height:72px;width:96px;background:#ddd}
.error{color:#b00020}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right} td:first-child,th:first-child{text-align:left}
.ok{color:#1a7f37} .wrong{color:#b00020}
"""


def load_results(path: str | os.PathLike) -> list[dict]:
    """The records of a results file: a JSON object (or list of them), or JSONL with one object a line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file; pass the JSON or JSONL that sample, batch or evaluate wrote")
    text = path.read_text()
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        pass
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not JSON ({error.msg}); each line of a JSONL file must be one "
                             "JSON object") from None
    return records


def kind(record: object) -> str:
    """``"video"``, ``"error"``, ``"comparison"``, ``"evaluation"``, ``"evaluations"`` (regime -> evaluation) or
    ``"unknown"``."""
    if not isinstance(record, dict):
        return "unknown"
    if "video" in record and "samplers" in record:
        return "comparison"
    if "video" in record and "error" in record:
        return "error"
    if "video" in record and "candidates" in record and "chosen" in record:
        return "video"
    if "policies" in record and "config" in record:
        return "evaluation"
    if record and all(isinstance(v, dict) and kind(v) == "evaluation" for v in record.values()):
        return "evaluations"
    return "unknown"


def render_html(records: Sequence[dict], *, title: str = "framesampler report", thumb_px: int = THUMB_PX) -> str:
    """The page for ``records`` (see :func:`kind`); thumbnails are decoded from each record's video path.
    Every value from a record is written escaped; one whose shape the page cannot use raises ``ValueError``."""
    if isinstance(thumb_px, bool) or not isinstance(thumb_px, int) or not MIN_THUMB_PX <= thumb_px <= MAX_THUMB_PX:
        raise ValueError(f"--thumb-size {thumb_px}: give {MIN_THUMB_PX}..{MAX_THUMB_PX} pixels (the thumbnails' shorter side)")
    sections: list[str] = []
    thumbnails: dict = {}  # per video path, shared by the records of one video
    for number, record in enumerate(records, 1):
        what = kind(record)
        if what == "video":
            sections.append(_video_section(record, number, thumbnails, thumb_px))
        elif what == "error":
            sections.append(f"<section><h2>{_e(os.path.basename(str(record['video'])))}</h2><p class=meta>"
                            f"{_e(record['video'])}</p><p class=error>{_e(record['error'])}</p></section>")
        elif what == "comparison":
            sections.append(_comparison_section(record, number, thumbnails, thumb_px))
        elif what == "evaluation":
            sections.append(_evaluation_section(record, None, number))
        elif what == "evaluations":
            sections += [_evaluation_section(report, name, number) for name, report in record.items()]
        else:
            keys = ", ".join(list(record)[:6]) if isinstance(record, dict) else type(record).__name__
            raise ValueError(f"cannot report a record with keys {keys}: pass what sample --json, batch or evaluate --json wrote")
    videos = sum(kind(r) in ("video", "error", "comparison") for r in records)
    intro = f"<p class=meta>{videos} video(s), {len(sections) - videos} evaluation(s)</p>"
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title><style>{STYLE}</style>"
            f"</head><body><h1>{_e(title)}</h1>{intro}{''.join(sections)}</body></html>\n")


def write_html(results: Iterable[str | os.PathLike], out: str | os.PathLike, *, thumb_px: int = THUMB_PX,
               title: str | None = None) -> Path:
    """Read the results files, render them and write ``out`` atomically."""
    paths = [Path(r) for r in results]
    records = [record for path in paths for record in load_results(path)]
    if not records:
        raise ValueError(f"{', '.join(map(str, paths))}: no results in it; run sample --json, batch or evaluate --json first")
    page = render_html(records, title=title or f"framesampler: {', '.join(p.name for p in paths)}", thumb_px=thumb_px)
    with atomic_file(out) as partial:
        partial.write_text(page)
    return Path(out)


def _bad_record(number: int, what: str) -> ValueError:
    return ValueError(f"results record {number}: {what}; pass what sample --json, batch or evaluate --json wrote")


def _checked_video(record: dict, number: int) -> tuple[str, list[int], list[dict], list]:
    """The fields that address frames (video path, candidates, chosen positions, scores), checked."""
    video, candidates, chosen, scores = record["video"], record["candidates"], record["chosen"], record.get("scores")
    if not isinstance(video, str) or not video:
        raise _bad_record(number, f"'video' must be the video's path, got {type(video).__name__} {video!r:.40}")
    if not isinstance(candidates, list) or len(candidates) > MAX_T or not all(_is_int(c) and c >= 0 for c in candidates):
        raise _bad_record(number, f"'candidates' must be a list of at most {MAX_T} frame numbers")
    if not isinstance(chosen, list) or not all(isinstance(row, dict) and _is_int(row.get("position"))
                                               and 0 <= row["position"] < len(candidates) for row in chosen):
        raise _bad_record(number, f"'chosen' must list positions into the {len(candidates)} candidates")
    if scores is not None and (not isinstance(scores, list) or len(scores) != len(candidates)):
        raise _bad_record(number, f"'scores' must hold one score per candidate ({len(candidates)})")
    prediction = record.get("prediction") or []
    if not isinstance(prediction, list) or not all(isinstance(p, dict) and {"class", "prob"} <= set(p) for p in prediction):
        raise _bad_record(number, "'prediction' must be a list of {class, prob}")
    return video, candidates, chosen, list(scores or [None] * len(candidates))


def _video_section(record: dict, number: int, thumbnails: dict, thumb_px: int) -> str:
    video, candidates, rows, scores = _checked_video(record, number)
    chosen = {row["position"] for row in rows}
    fps = record.get("fps") if _is_number(record.get("fps")) and record["fps"] > 0 else 0.0
    for row in rows:  # a summary without every candidate's score still has the chosen ones'
        if row.get("score") is not None:
            scores[row["position"]] = row["score"]
    expected = record.get("num_frames") if _is_int(record.get("num_frames")) else None
    images, problem = _thumbnails(video, candidates, expected, thumbnails, thumb_px)
    tiles = []
    for position, frame in enumerate(candidates):
        image = f"<img alt='frame {frame}' src='{images[position]}'>" if images else "<span class=missing></span>"
        caption = [f"#{frame}", f"{frame / fps:.2f} s" if fps else "",
                   "" if scores[position] is None else f"score {_n(scores[position], '{:.3g}')}"]  # escaped pieces
        star = "&#9733; " if position in chosen else ""
        tiles.append(f"<figure class='tile{' chosen' if position in chosen else ''}'>{image}<figcaption>{star}"
                     f"{'<br>'.join(c for c in caption if c)}</figcaption></figure>")
    sampler = f"{_e(record['sampler'])}: " if record.get("sampler") else ""
    head = (f"<h2>{_e(Path(video).name)}</h2><p class=meta>{_e(video)}</p>"
            f"<p class=meta>{sampler}{len(chosen)} of {len(candidates)} candidates chosen; "
            f"{_e(record.get('num_frames', '?'))} frames at {_n(record.get('fps') or 0, '{:.2f}')} fps</p>")
    warning = f"<p class=error>thumbnails unavailable: {_e(problem)}</p>" if problem else ""
    return (f"<section>{head}{warning}<div class=grid>{''.join(tiles)}</div>{_prediction(record)}"
            f"{_numbers('stage seconds', record.get('seconds'), '{:.4f}')}{_numbers('GMACs', record.get('gmacs'), '{:.3f}')}</section>")


def _comparison_section(record: dict, number: int, thumbnails: dict, thumb_px: int) -> str:
    """One video, each sampler's choice beside the others': a timeline (bursts shaded, chosen frames ticked), the
    chosen frames' thumbnails (a frame inside a burst marked) and the prediction against ``label``."""
    samplers, bursts, label = record["samplers"], record.get("bursts") or [], record.get("label")
    if not isinstance(samplers, list) or not samplers or not all(isinstance(s, dict) and kind(s) == "video" for s in samplers):
        raise _bad_record(number, "'samplers' must list per-sampler video summaries")
    if not isinstance(bursts, list) or not all(isinstance(b, list) and len(b) == 2 and all(_is_int(f) and f >= 0 for f in b)
                                               and b[0] <= b[1] for b in bursts):
        raise _bad_record(number, "'bursts' must list [first, last] frame numbers")
    sides = []
    for summary in samplers:
        video, candidates, rows, _ = _checked_video(summary, number)
        frames = [candidates[row["position"]] for row in rows]
        expected = summary.get("num_frames") if _is_int(summary.get("num_frames")) and summary["num_frames"] > 0 else None
        length = expected or max(candidates, default=0) + 1
        fps = summary.get("fps") if _is_number(summary.get("fps")) and summary["fps"] > 0 else 0.0
        images, problem = _thumbnails(video, frames, expected, thumbnails, thumb_px)
        inside = [any(first <= frame <= last for first, last in bursts) for frame in frames]
        timeline = "".join(f"<span class=burst style='left:{100 * first / length:.3f}%;width:{100 * (last + 1 - first) / length:.3f}%'>"
                           "</span>" for first, last in bursts)
        timeline += "".join(f"<span class=pick style='left:{100 * frame / length:.3f}%'></span>" for frame in frames)
        tiles = []
        for position, (frame, action) in enumerate(zip(frames, inside)):
            image = f"<img alt='frame {frame}' src='{images[position]}'>" if images else "<span class=missing></span>"
            caption = [f"#{frame}", f"{frame / fps:.2f} s" if fps else "", "action" if action else ""]
            tiles.append(f"<figure class='tile chosen{' action' if action else ''}'>{image}<figcaption>"
                         f"{'<br>'.join(c for c in caption if c)}</figcaption></figure>")
        name = summary.get("sampler", "sampler")
        warning = f"<p class=error>thumbnails unavailable: {_e(problem)}</p>" if problem else ""
        sides.append(f"<div class=side data-sampler='{_e(name)}'><h3>{_e(name)}</h3><div class=timeline>{timeline}</div>"
                     f"<p class=meta>{sum(inside)} of {len(frames)} chosen frames inside the action</p>{warning}"
                     f"<div class=grid>{''.join(tiles)}</div>{_prediction({**summary, 'label': label})}"
                     f"{_numbers('stage seconds', summary.get('seconds'), '{:.4f}')}</div>")
    spans = ", ".join(f"{first}-{last}" for first, last in bursts) or "none"
    truth = "" if label is None else f"; true label {_e(label)}"
    return (f"<section><h2>{_e(Path(record['video']).name)}</h2><p class=meta>{_e(record['video'])}{truth}; "
            f"action frames {spans} (shaded on each timeline, chosen frames ticked)</p>"
            f"<div class=pair>{''.join(sides)}</div></section>")


def _thumbnails(video: str, candidates: list[int], expected: int | None, cache: dict,
                thumb_px: int) -> tuple[list[str], str | None]:
    """data: URIs of the candidates (decoded once per video and candidate list), or the reason there are none
    (the video unreadable, or not the one sampled: its frame count differs from the record's ``expected``)."""
    from framesampler.video.decode import VideoError, VideoReader

    key = (video, tuple(candidates), expected)
    if key not in cache:
        try:
            with VideoReader(video) as reader:
                found = reader.metadata.num_frames
                if expected is not None and found != expected:
                    raise ValueError(f"{video} has {found} frames but the record says {expected}: the video was replaced "
                                     "since it was sampled; sample it again")
                cache[key] = ([_data_uri(frame) for frame in reader.frames(candidates, size=thumb_px)], None)
        except (VideoError, ValueError) as error:
            cache[key] = ([], str(error))
    return cache[key]


def _data_uri(frame: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _prediction(record: dict) -> str:
    prediction = record.get("prediction") or []
    if not prediction:
        return ""
    label = record.get("label", record.get("true_label"))
    verdict = ""
    if label is not None:
        right = str(prediction[0]["class"]) == str(label)
        verdict = f" &mdash; true label {_e(label)}: <span class={'ok' if right else 'wrong'}>{'correct' if right else 'wrong'}</span>"
    top = ", ".join(f"{_e(p['class'])} {_n(p['prob'])}" for p in prediction)
    return f"<p><b>prediction:</b> {top}{verdict}</p>"


def _numbers(name: str, values: dict | None, fmt: str) -> str:
    if not values or not isinstance(values, dict):
        return ""
    return f"<p class=meta>{_e(name)}: " + ", ".join(f"{_e(k)} {_n(v, fmt)}" for k, v in values.items()) + "</p>"


def _evaluation_section(report: dict, name: str | None, number: int) -> str:
    config, cost, policies = report.get("config") or {}, report.get("cost") or {}, report["policies"]
    if not all(isinstance(part, dict) for part in (config, cost, policies)) or \
            not all(isinstance(row, dict) for row in (*policies.values(), *cost.values())):
        raise _bad_record(number, "'config', 'cost' and 'policies' must be objects, each policy's row an object")
    columns = [("top1", "top-1"), ("mAP", "mAP"), ("fidelity", "fidelity"), ("in_burst", "in-burst")]
    seconds = {policy: _seconds(row, cost.get(policy)) for policy, row in policies.items()}
    rows = []
    for policy, row in policies.items():
        cells = ["-" if row.get(m) is None else f"{_n(row[m])} &plusmn; {_n(row.get(m + '_std') or 0)}" for m, _ in columns]
        cells.append(_n(row["frames"], "{:.1f}") if row.get("frames") is not None else "-")
        if cost:
            cells += [_n(cost[policy].get(k)) if policy in cost else "-" for k in ("sampler_gmacs", "classifier_gmacs")]
        if any(s is not None for s in seconds.values()):
            cells.append("-" if seconds[policy] is None else f"{seconds[policy]:.4f}")
        rows.append(f"<tr><td>{_e(policy)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    heads = [label for _, label in columns] + ["frames"] + (["GMACs sampler", "GMACs classifier"] if cost else []) \
        + (["seconds / video"] if any(s is not None for s in seconds.values()) else [])
    title = f"evaluation{f': {name}' if name else ''}"
    meta = ", ".join(f"{k} {config[k]}" for k in ("regime", "T", "N", "videos", "repeats") if k in config)
    plot = _accuracy_vs_time(report, seconds)
    return (f"<section><h2>{_e(title)}</h2><p class=meta>{_e(meta)}</p><table><tr><th>policy</th>"
            + "".join(f"<th>{_e(h)}</th>" for h in heads) + f"</tr>{''.join(rows)}</table>{plot}</section>")


def _seconds(row: dict, cost: dict | None) -> float | None:
    for source in (row, cost or {}):
        if _is_number(source.get("seconds_per_video")):
            return float(source["seconds_per_video"])
    return None


def _accuracy_vs_time(report: dict, seconds: dict) -> str:
    """Top-1 against seconds per video, one point per policy, as an inline PNG (only when timed)."""
    points = [(s, report["policies"][p].get("top1"), p) for p, s in seconds.items() if s is not None]
    points = [(s, top1, p) for s, top1, p in points if _is_number(top1)]
    if not points:
        return ""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for s, top1, policy in points:
        axes.scatter(s, top1)
        axes.annotate(policy, (s, top1), fontsize=8, xytext=(4, 2), textcoords="offset points", parse_math=False)
    axes.set_xlabel("seconds per video")
    axes.set_ylabel("top-1")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<h3>top-1 against time</h3><img alt='top-1 against seconds per video' src='{uri}'>"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _n(value: object, fmt: str = "{:.3f}") -> str:
    """A number formatted; anything else (a hand-edited record) as escaped text."""
    return fmt.format(value) if _is_number(value) else _e(value)
