"""Video manifests: which files make up a dataset and their labels.

Two formats, told apart by a ``.csv`` suffix or a ``path,label`` header line:

- mmaction2's video list: one ``path label`` per line, separated by whitespace (so paths without
  spaces); blank lines and lines starting with ``#`` are skipped.
- CSV with a header that has ``path`` and ``label`` columns (others are ignored); quote paths with commas.

Labels are kept as text (class ids or names). Relative paths are relative to the manifest's folder.
A video listed twice is refused (a duplicate could land in both train and test), or with ``dedupe=True``
kept once when both lines give the same label; a video given two labels is always an error.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ManifestEntry:
    path: Path
    label: str
    where: str = field(default="", compare=False)  # "manifest, line n", for messages


def read_manifest(path: str | os.PathLike, *, dedupe: bool = False) -> list[ManifestEntry]:
    """The entries of the manifest at ``path``, in file order; raises ValueError naming the bad line.
    A video on two lines is an error naming both (with ``dedupe``, a repeat with the same label is dropped)."""
    manifest = Path(path)
    if not manifest.is_file():
        raise FileNotFoundError(f"manifest {manifest} not found: check the path")
    lines = list(_content(manifest.read_text(encoding="utf-8").splitlines()))
    is_csv = manifest.suffix.lower() == ".csv" or (bool(lines) and _is_csv_header(lines[0][1]))
    pairs = _read_csv(manifest, lines) if is_csv else _read_list(manifest, lines)
    if not pairs:
        raise ValueError(f"{manifest} lists no videos: add 'path label' lines (or CSV rows under a path,label header)")
    entries = [ManifestEntry(path=Path(file) if Path(file).is_absolute() else manifest.parent / file, label=label,
                             where=f"{manifest}, line {number}") for number, file, label in pairs]
    return _unique(entries, dedupe)


def _unique(entries: list[ManifestEntry], dedupe: bool) -> list[ManifestEntry]:
    """``entries`` with each video once; a repeat is an error unless ``dedupe`` and its label agrees."""
    first: dict[str, ManifestEntry] = {}
    kept = []
    for entry in entries:
        seen = first.setdefault(os.path.realpath(entry.path), entry)
        if seen is entry:
            kept.append(entry)
        elif seen.label != entry.label:
            raise ValueError(f"{entry.path} has two labels: {seen.label!r} ({seen.where}) and {entry.label!r} "
                             f"({entry.where}); keep the right one")
        elif not dedupe:
            raise ValueError(f"{entry.path} is listed twice ({seen.where} and {entry.where}): remove one "
                             "(or, with extract, pass --dedupe to keep it once)")
    return kept


def check_disjoint(splits: dict[str, list[ManifestEntry]]) -> None:
    """Raise ValueError if one video is in two splits (a train/test leak), naming both lines."""
    owner: dict[str, tuple[str, ManifestEntry]] = {}
    for split, entries in splits.items():
        for entry in entries:
            other = owner.setdefault(os.path.realpath(entry.path), (split, entry))
            if other[0] != split:
                raise ValueError(f"{entry.path} is in both {other[0]} ({other[1].where}) and {split} ({entry.where}): "
                                 "a video may be in one split only; remove it from one manifest")


def class_names(entries: list[ManifestEntry]) -> list[str]:
    """The sorted unique labels of ``entries``; numerically sorted when every label is an integer."""
    labels = {entry.label for entry in entries}
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def _content(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) of the lines that are neither blank nor ``#`` comments."""
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line.strip()


def _read_list(manifest: Path, lines: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    pairs = []
    for number, line in lines:
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{manifest}, line {number}: expected 'path label' (2 fields), got {len(fields)} in "
                             f"{line!r}; paths with spaces need the CSV format")
        pairs.append((number, fields[0], fields[1]))
    return pairs


def _read_csv(manifest: Path, lines: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    header = [cell.strip().lower() for cell in _cells(lines[0][1])] if lines else []
    if "path" not in header or "label" not in header:
        raise ValueError(f"{manifest}, line {lines[0][0] if lines else 1}: the CSV header must name 'path' and "
                         f"'label' columns, got {header}")
    path_column, label_column = header.index("path"), header.index("label")
    pairs = []
    for number, line in lines[1:]:
        row = _cells(line)
        if len(row) != len(header):
            raise ValueError(f"{manifest}, line {number}: expected {len(header)} CSV fields like the header, "
                             f"got {len(row)}")
        file, label = row[path_column].strip(), row[label_column].strip()
        if not file or not label:
            raise ValueError(f"{manifest}, line {number}: empty path or label")
        pairs.append((number, file, label))
    return pairs


def _cells(line: str) -> list[str]:
    return next(csv.reader([line]))


def _is_csv_header(line: str) -> bool:
    cells = [cell.strip().lower() for cell in _cells(line)]
    return "path" in cells and "label" in cells


def stratified_split(labels: Sequence | np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) of a split stratified by label, classes in sorted order: about ``fraction``
    of each class held out, at least one of each class with two or more members, never its last one."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction}")
    label_array = np.asarray(labels)
    held: list[int] = []
    for label in np.unique(label_array):
        members = np.flatnonzero(label_array == label)
        count = min(len(members) - 1, max(1, round(fraction * len(members))))
        held.extend(members[rng.permutation(len(members))[:count]])
    mask = np.zeros(len(labels), bool)
    mask[np.asarray(held, dtype=np.int64)] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def split_entries(entries: list[ManifestEntry], test_fraction: float, seed: int = 0) -> dict[str, list[ManifestEntry]]:
    """A deterministic train/test split stratified by label (``stratified_split``)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    train, test = stratified_split([e.label for e in entries], test_fraction, np.random.default_rng(seed))
    return {"train": [entries[i] for i in train], "test": [entries[i] for i in test]}


def read_splits(manifest: str | os.PathLike, *, test: str | os.PathLike | None = None, test_fraction: float = 0.3,
                seed: int = 0, dedupe: bool = False) -> dict[str, list[ManifestEntry]]:
    """``{"train": ..., "test": ...}``: ``manifest`` as train and ``test`` as test when a test manifest is given, else
    ``manifest`` split by ``split_entries`` (``test_fraction`` of each class held out, ``seed``)."""
    entries = read_manifest(manifest, dedupe=dedupe)
    if test is not None:
        return {"train": entries, "test": read_manifest(test, dedupe=dedupe)}
    return split_entries(entries, test_fraction, seed=seed)
