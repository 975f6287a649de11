from pathlib import Path

import pytest

from framesampler.data.manifest import ManifestEntry, check_disjoint, class_names, read_manifest, read_splits


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_video_list_with_comments_relative_and_absolute_paths(tmp_path):
    (tmp_path / "lists").mkdir()
    manifest = write(tmp_path / "lists" / "train.txt",
                     "# path label\n\nvideos/a.mp4 3\n  /data/b.avi\tjumping  \n# skipped\nc.mkv 10\n")
    assert read_manifest(manifest) == [
        ManifestEntry(tmp_path / "lists" / "videos" / "a.mp4", "3"),
        ManifestEntry(Path("/data/b.avi"), "jumping"),
        ManifestEntry(tmp_path / "lists" / "c.mkv", "10"),
    ]


def test_csv_by_suffix_or_by_header_with_extra_columns_and_quoted_commas(tmp_path):
    text = 'id,Label,path\n1,run,"clips/a, take 2.mp4"\n\n2,walk,/abs/b.mp4\n'
    for name in ("set.csv", "set.txt"):
        entries = read_manifest(write(tmp_path / name, text))
        assert entries == [ManifestEntry(tmp_path / "clips" / "a, take 2.mp4", "run"),
                           ManifestEntry(Path("/abs/b.mp4"), "walk")]


@pytest.mark.parametrize("name, text, message", [
    ("a.txt", "a.mp4 1\n\nb.mp4\n", "line 3: expected 'path label'"),
    ("a.txt", "# header\na.mp4 1 extra\n", "line 2: expected 'path label'"),
    ("a.csv", "path,label\na.mp4,1\nb.mp4\n", "line 3: expected 2 CSV fields"),
    ("a.csv", "path,label\n,1\n", "line 2: empty path or label"),
    ("a.csv", "file,class\na.mp4,1\n", "line 1: the CSV header must name 'path' and 'label'"),
    ("a.txt", "# nothing here\n\n", "lists no videos"),
])
def test_malformed_manifests_name_the_line(tmp_path, name, text, message):
    with pytest.raises(ValueError, match=message):
        read_manifest(write(tmp_path / name, text))


def test_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_manifest(tmp_path / "nope.txt")


def test_class_names_sort_numbers_as_numbers():
    def entries(*labels):
        return [ManifestEntry(Path(f"{i}.mp4"), label) for i, label in enumerate(labels)]

    assert class_names(entries("10", "2", "2", "0")) == ["0", "2", "10"]
    assert class_names(entries("walk", "10", "run")) == ["10", "run", "walk"]


def test_a_video_listed_twice_is_refused_or_kept_once_with_dedupe(tmp_path):
    """Issue 10, case 4: duplicate lines would put one video in train and test."""
    manifest = write(tmp_path / "train.txt", "a.mp4 1\nb.mp4 2\n./a.mp4 1\n")
    with pytest.raises(ValueError, match=r"a.mp4 is listed twice \(.*train.txt, line 1 and .*train.txt, line 3\).*--dedupe"):
        read_manifest(manifest)
    assert read_manifest(manifest, dedupe=True) == [ManifestEntry(tmp_path / "a.mp4", "1"),
                                                    ManifestEntry(tmp_path / "b.mp4", "2")]


@pytest.mark.parametrize("dedupe", [False, True])
def test_a_video_with_two_labels_is_an_error_naming_both_lines(tmp_path, dedupe):
    manifest = write(tmp_path / "set.csv", "path,label\na.mp4,run\nb.mp4,walk\na.mp4,walk\n")
    with pytest.raises(ValueError, match=r"a.mp4 has two labels: 'run' \(.*set.csv, line 2\) and 'walk' \(.*set.csv, line 4\)"):
        read_manifest(manifest, dedupe=dedupe)


def test_a_video_in_both_splits_is_an_error(tmp_path):
    train = read_manifest(write(tmp_path / "train.txt", "a.mp4 1\nb.mp4 2\n"))
    test = read_manifest(write(tmp_path / "test.txt", "c.mp4 1\n\nb.mp4 2\n"))
    check_disjoint({"train": train, "test": test[:1]})
    with pytest.raises(ValueError, match=r"b.mp4 is in both train \(.*train.txt, line 2\) and test \(.*test.txt, line 3\)"):
        check_disjoint({"train": train, "test": test})


def test_extract_refuses_a_video_in_both_manifests_before_any_work(tmp_path):
    from framesampler.cli import main

    write(tmp_path / "train.txt", "a.mp4 1\nb.mp4 2\n")
    write(tmp_path / "test.txt", "b.mp4 2\n")
    assert main(["extract", str(tmp_path / "train.txt"), "--test", str(tmp_path / "test.txt"), "--out",
                 str(tmp_path / "d.npz"), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]) == 2
    assert not (tmp_path / "cache").exists() and not (tmp_path / "d.npz").exists()


def test_read_splits_takes_a_test_manifest_or_splits_the_one_given(tmp_path):
    lines = "".join(f"{c}{i}.mp4 {c}\n" for c in "ab" for i in range(4))
    train = write(tmp_path / "train.txt", lines)
    test = write(tmp_path / "test.txt", "t.mp4 a\n")
    given = read_splits(train, test=test)
    assert len(given["train"]) == 8 and [e.path.name for e in given["test"]] == ["t.mp4"]
    split = read_splits(train, test_fraction=0.25, seed=3)
    assert sorted(e.label for e in split["test"]) == ["a", "b"] and len(split["train"]) == 6
    assert split == read_splits(train, test_fraction=0.25, seed=3)  # deterministic per seed
