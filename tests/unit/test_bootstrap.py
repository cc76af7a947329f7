"""`make run DATA=...`: the dataset switch in params.yaml."""

from pathlib import Path

import yaml

from pipeline.bootstrap import DATASETS, use_dataset


def test_switching_the_dataset_sets_its_params_and_keeps_the_comments(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(Path("params.yaml").read_text())
    changes = use_dataset("flickr8k", params)
    assert changes["download.source"] == ("synthetic", "flickr8k")
    loaded = yaml.safe_load(params.read_text())
    assert loaded["download"]["source"] == "flickr8k"
    assert loaded["featurize"]["encoder"] == DATASETS["flickr8k"]["featurize.encoder"]
    assert "# synthetic: the embedded dataset" in params.read_text()
    assert use_dataset("flickr8k", params) == {}  # already there: nothing to rebuild for
    use_dataset("synthetic", params)
    back = yaml.safe_load(params.read_text())
    assert back["download"]["source"] == "synthetic" and back["featurize"]["encoder"] == "cnn"
