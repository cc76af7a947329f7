"""Flickr8k look-alike archives served on 127.0.0.1, through download and preprocess, quirks and faults included."""

import hashlib
import json
import zipfile

import pandas as pd
import pytest

from pipeline.config import load_params
from pipeline.data.download import download
from pipeline.data.preprocess import PreprocessConfig, preprocess
from testkit.project import ROOT
from tests.flickr8k_fixtures import MISSING_IMAGE, build_archives


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    return build_archives(tmp_path_factory.mktemp("site"))


def _serve(http_server, archives, **options):
    server = http_server({p.name: p.read_bytes() for p in (archives.dataset_zip, archives.text_zip,
                                                               archives.kaggle_zip)}, **options)
    return server


def test_official_layout_end_to_end_with_dvc_and_a_resumed_download(project, http_server, archives):
    server = _serve(http_server, archives, drop_after=20_000, drops=1)
    project.set_params(download={"source": "flickr8k", "flickr8k": {
        "archives": [server.url("Flickr8k_Dataset.zip"),
                     {"url": server.url("Flickr8k_text.zip"),
                      "sha256": hashlib.sha256(archives.text_zip.read_bytes()).hexdigest()}],
        "timeout": 10, "retries": 3}})
    project.dvc("repro", "preprocess")

    assert any(r.headers.get("Range", "").startswith("bytes=20000-") for r in server.requests), \
        "the dropped download was not resumed with a Range request"
    table = pd.read_csv(project.path / "data/processed/captions.csv")
    kept = set(table["image"])
    assert archives.corrupt not in kept and archives.no_split not in kept and MISSING_IMAGE not in kept
    assert archives.grayscale in kept
    assert len(kept) == len(archives.images) - 2
    assert table.groupby("image").size().eq(5).all()

    report = json.loads((project.path / "reports/data_validation.json").read_text())
    assert report["success"] is True
    assert {reason: v["count"] for reason, v in report["skipped"].items()} == archives.expected_skips
    assert any(MISSING_IMAGE in e for e in report["skipped"]["caption_without_image"]["examples"])
    assert report["counts"]["skipped"] == sum(archives.expected_skips.values())

    requests_before = len(server.requests)
    assert "Running stage" not in project.dvc("repro", "preprocess").stdout
    assert len(server.requests) == requests_before


def test_kaggle_layout_gets_a_seeded_split(tmp_path, http_server, archives):
    server = _serve(http_server, archives)
    params = {"source": "flickr8k", "flickr8k": {"archives": [server.url("flickr8k-kaggle.zip")]}}
    layout = download(params, tmp_path / "raw", tmp_path / "cache")
    assert layout.kind == "kaggle"
    config = PreprocessConfig.from_params(load_params("preprocess", ROOT / "params.yaml"))
    counts = preprocess(tmp_path / "raw", config, tmp_path / "processed", tmp_path / "validation.json")
    table = pd.read_csv(tmp_path / "processed/captions.csv")
    assert counts["images"] == len(archives.images) - 1  # the corrupt one
    assert set(table["split"]) == {"train", "dev", "test"}
    assert table["caption"].str.contains("quite plainly").all()  # commas inside quoted CSV fields kept
    skipped = json.loads((tmp_path / "validation.json").read_text())["skipped"]
    assert {k: v["count"] for k, v in skipped.items()} == {"image_undecodable": 1, "malformed_caption_line": 1}
    again = preprocess(tmp_path / "raw", config, tmp_path / "processed2", tmp_path / "validation2.json")
    assert pd.read_csv(tmp_path / "processed2/captions.csv").equals(table) and again == counts


def _stage_download(project, archives_param, timeout=5):
    project.set_params(download={"source": "flickr8k", "flickr8k": {"archives": archives_param,
                                                                    "timeout": timeout, "retries": 1}})
    return project.run(project.env["PATH"].split(":")[0] + "/python", "-m", "stages.download", "data/raw",
                       "data/archives", check=False)


def test_wrong_checksum_is_a_clear_error_and_leaves_nothing(project, http_server, archives):
    server = _serve(http_server, archives)
    done = _stage_download(project, [{"url": server.url("Flickr8k_text.zip"), "sha256": "0" * 64}])
    assert done.returncode == 1
    assert "sha256" in done.stderr.lower() and "Traceback" not in done.stderr
    assert not (project.path / "data/raw").exists()
    assert not list((project.path / "data/archives").glob("Flickr8k_text.zip*"))


def test_an_entry_escaping_the_folder_is_refused(project, tmp_path, archives):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("Flickr8k.token.txt", "x.jpg#0\tA cat .\n")
        z.writestr("../../escaped.txt", "gotcha")
    done = _stage_download(project, [str(evil)])
    assert done.returncode == 1
    assert "escaped.txt" in done.stderr and "Traceback" not in done.stderr
    assert not (project.path / "data/raw").exists()
    assert not list(tmp_path.rglob("escaped.txt"))


def test_an_interrupted_download_fails_clearly_and_the_rerun_resumes(project, http_server, archives):
    server = _serve(http_server, archives, ranges=False, drop_after=5_000, drops=1_000)
    sources = [server.url("Flickr8k_Dataset.zip"), server.url("Flickr8k_text.zip")]
    done = _stage_download(project, sources)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "resume" in done.stderr.lower()
    assert not (project.path / "data/raw").exists()

    server.ranges, server.drops = True, 0  # the network is back
    seen = len(server.requests)
    assert _stage_download(project, sources).returncode == 0
    assert server.requests[seen].headers.get("Range") == "bytes=5000-"
    assert (project.path / "data/raw/Flickr8k_Dataset/Flicker8k_Dataset").is_dir()


def test_archives_that_are_not_flickr8k_are_refused(project, tmp_path):
    other = tmp_path / "photos.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("notes.txt", "no captions here")
    done = _stage_download(project, [str(other)])
    assert done.returncode == 1 and "neither Flickr8k layout" in done.stderr
    assert not (project.path / "data/raw").exists()
