"""extract(): formats, refusal of unsafe entries, all-or-nothing behaviour, the .complete marker."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipeline.data import archives
from pipeline.data.archives import MARKER, ArchiveError, UnsafeArchiveError, extract

FILES = {"Flicker8k_Dataset/a.jpg": b"\xff\xd8jpeg-a", "Flickr8k.token.txt": b"a.jpg#0\ta dog\n"}


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def tar_member(name: str, data: bytes = b"", type: bytes = tarfile.REGTYPE, link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = type, link, len(data)
    return info, (io.BytesIO(data) if type == tarfile.REGTYPE else None)


def make_tar(path: Path, members: list[tuple], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            tf.addfile(info, data)
    return path


def assert_nothing_left(dest: Path) -> None:
    """No dest and no temporary sibling: a refused or failed extraction leaves nothing."""
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir() if p.name.startswith(".")] == []


def test_zip_is_extracted_with_marker(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "text.zip", FILES)
    dest = extract(archive, tmp_path / "out" / "text", progress=False)
    assert (dest / "Flicker8k_Dataset/a.jpg").read_bytes() == FILES["Flicker8k_Dataset/a.jpg"]
    assert (dest / "Flickr8k.token.txt").read_bytes() == FILES["Flickr8k.token.txt"]
    assert json.loads((dest / MARKER).read_text())["archive_size"] == archive.stat().st_size
    assert [p.name for p in dest.parent.iterdir()] == ["text"]


def test_tar_gz_is_detected_by_content_and_keeps_inner_links(tmp_path: Path) -> None:
    members = [tar_member("./d/x.txt", b"hello"), tar_member("d/link", type=tarfile.SYMTYPE, link="x.txt"),
               tar_member("hard.txt", type=tarfile.LNKTYPE, link="d/x.txt")]
    archive = make_tar(tmp_path / "data.bin", members)  # misleading extension
    dest = extract(archive, tmp_path / "out", progress=False)
    assert (dest / "d/link").is_symlink() and (dest / "d/link").read_bytes() == b"hello"
    assert (dest / "hard.txt").read_bytes() == b"hello"


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "x.zip"
    archive.write_bytes(b"not an archive at all" * 40)
    with pytest.raises(ArchiveError, match="neither a zip nor a tar"):
        extract(archive, tmp_path / "out", progress=False)
    assert_nothing_left(tmp_path / "out")


@pytest.mark.parametrize("name", ["../evil.txt", "ok/../../evil.txt", "/abs/evil.txt",
                                  "..\\..\\evil.txt", "C:/evil.txt"])
def test_zip_slip_is_refused(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "bad.zip", {"fine.txt": b"ok", name: b"pwned"})
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, work / "out", progress=False)
    assert repr(name) in str(err.value)
    assert_nothing_left(work / "out")
    assert list(tmp_path.rglob("evil.txt")) == []


@pytest.mark.parametrize("members", [
    [tar_member("/etc/evil.txt", b"x")],
    [tar_member("link", type=tarfile.SYMTYPE, link="../../outside")],
    [tar_member("link", type=tarfile.SYMTYPE, link="/etc/passwd")],
    [tar_member("hard", type=tarfile.LNKTYPE, link="../../etc/passwd")],
    [tar_member("hard", type=tarfile.LNKTYPE, link="/etc/passwd")],
    [tar_member("fifo", type=tarfile.FIFOTYPE)],
    [tar_member("dev", type=tarfile.CHRTYPE)],
    # each link looks inside on its own; together they lead out
    [tar_member("a", type=tarfile.SYMTYPE, link="."), tar_member("a/b", type=tarfile.SYMTYPE, link="..")],
    [tar_member("a", type=tarfile.SYMTYPE, link="."), tar_member("a/b", type=tarfile.SYMTYPE, link=".."),
     tar_member("a/b/evil.txt", b"pwned")],
], ids=["absolute", "symlink-up", "symlink-abs", "hardlink-up", "hardlink-abs", "fifo", "device",
        "symlink-chain", "write-through-chain"])
def test_unsafe_tar_entries_are_refused(tmp_path: Path, members: list[tuple]) -> None:
    archive = make_tar(tmp_path / "bad.tar", [tar_member("fine.txt", b"ok"), *members], mode="w")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(UnsafeArchiveError, match="entry '"):
        extract(archive, work / "out", progress=False)
    assert_nothing_left(work / "out")
    assert list(tmp_path.rglob("evil.txt")) == []


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "tar"])
def test_truncated_archive_is_an_archive_error(tmp_path: Path, kind: str) -> None:
    big = {f"img/{i}.jpg": bytes(range(256)) * 64 + str(i).encode() for i in range(20)}
    if kind == "zip":
        archive = make_zip(tmp_path / "a.zip", big)
    else:
        members = [tar_member(n, d) for n, d in big.items()]
        archive = make_tar(tmp_path / "a.tar", members, mode="w:gz" if kind == "tar.gz" else "w")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="corrupt or truncated") as err:
        extract(archive, tmp_path / "out", progress=False)
    assert not isinstance(err.value, UnsafeArchiveError)
    assert_nothing_left(tmp_path / "out")


def test_crash_mid_extraction_leaves_nothing_and_rerun_succeeds(tmp_path, monkeypatch) -> None:
    archive = make_zip(tmp_path / "a.zip", FILES)
    real, calls = archives._write_member, []

    def crash_on_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash")
        return real(*args)

    monkeypatch.setattr(archives, "_write_member", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        extract(archive, tmp_path / "out", progress=False)
    assert_nothing_left(tmp_path / "out")
    monkeypatch.setattr(archives, "_write_member", real)
    assert (extract(archive, tmp_path / "out", progress=False) / "Flickr8k.token.txt").is_file()


def test_complete_dest_is_skipped_and_a_changed_archive_redone(tmp_path, monkeypatch) -> None:
    archive = make_zip(tmp_path / "a.zip", FILES)
    dest = extract(archive, tmp_path / "out", progress=False)
    (dest / "user-note.txt").write_text("kept while the archive is unchanged")

    def must_not_run(*args):
        raise AssertionError("extracted again")

    monkeypatch.setattr(archives, "_write_member", must_not_run)
    assert extract(archive, dest, progress=False) == dest
    assert (dest / "user-note.txt").exists()
    monkeypatch.undo()

    make_zip(archive, {"new.txt": b"v2"})
    extract(archive, dest, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == [MARKER, "new.txt"]


def test_existing_dest_without_marker_is_replaced(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    (dest / "Flicker8k_Dataset").mkdir(parents=True)
    (dest / "Flicker8k_Dataset/half.jpg").write_bytes(b"\xff")  # an earlier, interrupted run
    extract(make_zip(tmp_path / "a.zip", FILES), dest, progress=False)
    assert not (dest / "Flicker8k_Dataset/half.jpg").exists()
    assert (dest / MARKER).is_file()


def test_size_limit_is_checked_from_headers(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(1_000_000)})
    assert archive.stat().st_size < 10_000  # compresses well: the headers tell the real size
    with pytest.raises(ArchiveError, match="max_total_bytes"):
        extract(archive, tmp_path / "out", max_total_bytes=500_000, progress=False)
    assert_nothing_left(tmp_path / "out")


def test_size_limit_is_enforced_while_writing(tmp_path: Path) -> None:
    # headers can lie; the byte count during the copy is the last line of defence
    with pytest.raises(ArchiveError, match="max_total_bytes"):
        archives._write_member(io.BytesIO(bytes(100)), tmp_path / "f", 99, "f")
    assert archives._write_member(io.BytesIO(bytes(100)), tmp_path / "g", 100, "g") == 100
