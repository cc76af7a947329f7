"""Real `dvc repro` of download and preprocess on the embedded dataset, in a throw-away repository."""

import json

import pandas as pd


def test_repro_builds_then_does_nothing_then_reruns_only_what_a_param_touches(project):
    first = project.dvc("repro", "preprocess")
    assert "Running stage 'download'" in first.stdout and "Running stage 'preprocess'" in first.stdout

    table = pd.read_csv(project.path / "data/processed/captions.csv")
    assert list(table.columns) == ["image", "caption", "split"]
    assert len(table) == 300 and table["image"].nunique() == 60
    assert table.groupby("image").size().eq(5).all()
    assert set(table["split"]) == {"train", "dev", "test"}
    vocabulary = json.loads((project.path / "data/processed/vocabulary.json").read_text())
    assert vocabulary["tokens"][:2] == ["", "[UNK]"] and "<start>" in vocabulary["tokens"]
    validation = json.loads((project.path / "reports/data_validation.json").read_text())
    assert validation["success"] is True and validation["counts"]["skipped"] == 0
    assert (project.path / "data/processed/scenes.jsonl").read_text().count("\n") == 60
    metrics = json.loads(project.dvc("metrics", "show", "--json").stdout)
    counts = metrics[""]["data"]["reports/data.json"]["data"]
    assert counts["images"] == 60 and counts["captions"] == 300

    second = project.dvc("repro", "preprocess")
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date" in second.stdout

    project.set_params(preprocess={"sequence_length": 20})
    third = project.dvc("repro", "preprocess")
    assert "Running stage 'download'" not in third.stdout
    assert "Running stage 'preprocess'" in third.stdout
    vocabulary = json.loads((project.path / "data/processed/vocabulary.json").read_text())
    assert vocabulary["sequence_length"] == 20


def test_a_bad_param_stops_the_stage_with_a_message_not_a_traceback(project):
    project.set_params(download={"synthetic": {"num_images": 3}})
    done = project.dvc("repro", "download", check=False)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "download.synthetic.num_images must be at least 10" in output
    assert "Traceback" not in output
    assert not (project.path / "data/raw").exists()
