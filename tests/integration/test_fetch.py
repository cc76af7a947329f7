"""fetch() against a real HTTP server on 127.0.0.1 (``http_server``, from tests/conftest.py)."""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path

import pytest

from pipeline.data import fetch as fetch_module
from pipeline.data.fetch import ChecksumError, DownloadError, cache_name, fetch

PAYLOAD = random.Random(0).randbytes(50_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
NAME = "Flickr8k_text.zip"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_module, "BACKOFF_SECONDS", 0.01)


def ranges_sent(srv) -> list[str | None]:
    return [r.headers.get("Range") for r in srv.requests if r.method == "GET"]


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_full_download(http_server, tmp_path: Path) -> None:
    srv = http_server({NAME: PAYLOAD})
    path = fetch(srv.url(NAME), tmp_path / "cache", sha256=SHA, size=len(PAYLOAD), progress=True)
    assert path == tmp_path / "cache" / NAME
    assert path.read_bytes() == PAYLOAD
    assert leftovers(tmp_path / "cache") == [NAME]
    assert ranges_sent(srv) == [None]


def test_resume_after_a_dropped_connection_sends_range(http_server, tmp_path: Path) -> None:
    srv = http_server({NAME: PAYLOAD}, drop_after=10_000, drops=1)
    path = fetch(srv.url(NAME), tmp_path, sha256=SHA, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert ranges_sent(srv) == [None, "bytes=10000-"]


def test_drops_that_make_progress_do_not_use_up_retries(http_server, tmp_path: Path) -> None:
    srv = http_server({NAME: PAYLOAD}, drop_after=10_000, drops=4)
    assert fetch(srv.url(NAME), tmp_path, retries=1, progress=False).read_bytes() == PAYLOAD
    assert ranges_sent(srv) == [None] + [f"bytes={n}-" for n in (10_000, 20_000, 30_000, 40_000)]


def test_a_part_file_from_an_earlier_run_is_resumed(http_server, tmp_path: Path) -> None:
    (tmp_path / f"{NAME}.part").write_bytes(PAYLOAD[:30_000])
    srv = http_server({NAME: PAYLOAD})
    assert fetch(srv.url(NAME), tmp_path, sha256=SHA, progress=False).read_bytes() == PAYLOAD
    assert ranges_sent(srv) == ["bytes=30000-"]


def test_server_without_ranges_restarts_from_zero(http_server, tmp_path: Path) -> None:
    (tmp_path / f"{NAME}.part").write_bytes(b"stale bytes that must not survive")
    srv = http_server({NAME: PAYLOAD}, ranges=False, drop_after=10_000, drops=1)
    assert fetch(srv.url(NAME), tmp_path, sha256=SHA, progress=False).read_bytes() == PAYLOAD
    assert ranges_sent(srv) == ["bytes=33-", "bytes=10000-"]  # asked to resume, got 200 both times
    assert leftovers(tmp_path) == [NAME]


@pytest.mark.parametrize("part", [PAYLOAD, PAYLOAD + b"extra"], ids=["complete", "too-long"])
def test_416_is_verified_or_restarted(http_server, tmp_path: Path, part: bytes) -> None:
    (tmp_path / f"{NAME}.part").write_bytes(part)
    srv = http_server({NAME: PAYLOAD})
    assert fetch(srv.url(NAME), tmp_path, sha256=SHA, progress=False).read_bytes() == PAYLOAD
    expected = [f"bytes={len(part)}-"] + ([] if part == PAYLOAD else [None])
    assert ranges_sent(srv) == expected


def test_exhausted_retries_keep_the_part_and_a_rerun_resumes(http_server, tmp_path: Path) -> None:
    srv = http_server({NAME: PAYLOAD}, ranges=False, drop_after=10_000, drops=100)
    with pytest.raises(DownloadError, match="run again to resume") as err:
        fetch(srv.url(NAME), tmp_path, retries=1, progress=False)
    assert not isinstance(err.value, ChecksumError)
    assert len(ranges_sent(srv)) == 3 and leftovers(tmp_path) == [f"{NAME}.part"]
    srv.ranges, srv.drop_after = True, None
    assert fetch(srv.url(NAME), tmp_path, sha256=SHA, progress=False).read_bytes() == PAYLOAD
    assert ranges_sent(srv)[-1] == "bytes=10000-"


@pytest.mark.parametrize("kwargs, message", [
    ({"sha256": "0" * 64}, f"sha256 mismatch: expected {'0' * 64}, got {SHA}"),
    ({"size": len(PAYLOAD) + 1}, f"size mismatch: expected {len(PAYLOAD) + 1} bytes, got {len(PAYLOAD)}"),
])
def test_mismatch_raises_checksum_error_and_leaves_nothing(http_server, tmp_path, kwargs, message) -> None:
    srv = http_server({NAME: PAYLOAD})
    with pytest.raises(ChecksumError, match=message):
        fetch(srv.url(NAME), tmp_path / "cache", progress=False, **kwargs)
    assert leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("status, attempts", [(404, 1), (500, 3)])
def test_http_errors_name_status_and_url(http_server, tmp_path, status: int, attempts: int) -> None:
    srv = http_server({NAME: PAYLOAD}, status=status)
    with pytest.raises(DownloadError, match=f"HTTP {status}") as err:
        fetch(srv.url(NAME), tmp_path, retries=2, progress=False)
    assert srv.url(NAME) in str(err.value)
    assert len(srv.requests) == attempts  # 5xx may be transient and is retried; 4xx is not
    assert not (tmp_path / NAME).exists()


def test_a_stalled_server_times_out_within_bounds(http_server, tmp_path: Path) -> None:
    srv = http_server({NAME: PAYLOAD}, stall=True)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        fetch(srv.url(NAME), tmp_path, timeout=0.3, retries=1, progress=False)
    assert time.monotonic() - started < 3.0
    assert len(srv.requests) == 2


def test_a_stall_mid_transfer_is_resumed(http_server, tmp_path: Path) -> None:
    srv = http_server({NAME: PAYLOAD}, stall_after=20_000)
    path = fetch(srv.url(NAME), tmp_path, sha256=SHA, timeout=0.3, retries=0, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert ranges_sent(srv) == [None, "bytes=20000-", "bytes=40000-"]


def test_cached_file_is_reused_without_a_request(http_server, tmp_path: Path) -> None:
    srv = http_server({NAME: PAYLOAD})
    first = fetch(srv.url(NAME), tmp_path, progress=False)
    assert fetch(srv.url(NAME), tmp_path, progress=False) == first
    assert fetch(srv.url(NAME), tmp_path, sha256=SHA, size=len(PAYLOAD), progress=False) == first
    assert len(srv.requests) == 1


def test_a_cached_file_that_no_longer_matches_is_fetched_again(http_server, tmp_path: Path) -> None:
    (tmp_path / NAME).write_bytes(b"an older version")
    srv = http_server({NAME: PAYLOAD})
    assert fetch(srv.url(NAME), tmp_path, sha256=SHA, progress=False).read_bytes() == PAYLOAD
    assert len(srv.requests) == 1


def test_local_paths_are_returned_as_they_are(tmp_path: Path) -> None:
    local = tmp_path / "data" / NAME
    local.parent.mkdir()
    local.write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    assert fetch(str(local), cache, sha256=SHA) == local
    assert fetch(local.as_uri(), cache, size=len(PAYLOAD)) == local
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        fetch(local, cache, sha256="0" * 64)
    assert local.read_bytes() == PAYLOAD  # a user's own file is never deleted
    with pytest.raises(DownloadError, match="does not exist"):
        fetch(tmp_path / "missing.zip", cache)
    assert not cache.exists()


@pytest.mark.parametrize("url, name", [
    ("https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_text.zip", NAME),
    ("http://h/a/b%20c.zip?sig=x/y#frag", "b_c.zip"),
    ("http://h/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "passwd"),
    ("http://h/x/..%5C..%5Cevil", "_._evil"),
    ("http://h/..", "download"),
    ("http://h/", "download"),
])
def test_cache_name_is_sanitised(url: str, name: str) -> None:
    assert cache_name(url) == name
