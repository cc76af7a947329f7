"""evaluate's reports: ``reports/metrics.json`` and the ``reports/scores.csv`` plot dvc.yaml draws."""

import csv
import json

import pytest
import yaml

from pipeline.models.publish import write_reports
from testkit.project import ROOT


@pytest.mark.parametrize(("gate", "columns"), [("content", ["bleu4", "content"]), ("bleu4", ["bleu4", "cider_d"])])
def test_the_scores_plot_holds_the_gate_score_with_scenes_or_without(tmp_path, gate, columns):
    report = {"human": {"bleu4": 0.3},
              **{kind: {"bleu4": b, "cider_d": 0.5, **({"content": c} if gate == "content" else {}),
                        "gate_metric": gate, "promoted": True}
                 for kind, b, c in (("lstm", 0.123456, 0.7), ("transformer", 0.2, 0.9))}}
    write_reports(report, tmp_path / "metrics.json", tmp_path / "scores.csv", columns)

    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert [r["decoder"] for r in rows] == ["lstm", "transformer"]
    assert [float(r["gate_score"]) for r in rows] == [round(report[r["decoder"]][gate], 4) for r in rows]
    plot = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["evaluate"]["plots"][0]["reports/scores.csv"]
    assert plot["y"] in rows[0] and plot["x"] in rows[0]  # the fields dvc.yaml plots exist on either data
    assert json.loads((tmp_path / "metrics.json").read_text())["lstm"]["gate_metric"] == gate
