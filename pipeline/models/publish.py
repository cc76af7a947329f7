"""The evaluate stage's work: score each trained decoder, fit its judge, then log, bundle, register and gate it."""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.files import atomic_write_json, atomic_write_text
from pipeline.models.captioner import Captioner, load_trained
from pipeline.models.decoders import fastest_steps
from pipeline.models.evaluation import (
    DecoderScores,
    EvaluationData,
    Pictures,
    fit_judge,
    outside_figures,
    sample_sheet,
    score_decoder,
)
from pipeline.models.honesty import Description
from pipeline.names import registered_name

log = logging.getLogger(__name__)
JUDGED = "test_selective_accuracy"  # logged by every version that carries a judge; one without it is beaten


@dataclass
class Evaluated:
    """One decoder after evaluation: the captioner with its judge, its scores, the judge's figures, the test
    pictures prepared as the service prepares an upload and Keras' descriptions of them (with the judge)."""

    kind: str
    captioner: Captioner
    scores: DecoderScores
    figures: dict[str, float]
    test_images: np.ndarray
    test_described: list[Description]

    def report(self) -> dict[str, float]:
        """Every figure of this decoder, as ``reports/metrics.json`` and the MLflow run hold them."""
        return {**self.scores.metrics, **self.scores.extra, **self.figures}


def evaluate_decoder(decoder: Path, encoder: Path, processed: Path, data: EvaluationData,
                     params: Mapping[str, Any], outside: Sequence, pictures: Pictures | None = None
                     ) -> tuple[Evaluated, Pictures]:
    """Score the decoder in ``decoder`` (a train stage's folder) on the test split, fit its judge, and measure
    how many ``outside`` pictures (``pipeline.data.outside``) it rejects. ``pictures`` (prepared once per
    encoder, with its domain check) are made if not given, and returned for the next decoder."""
    captioner = load_trained(encoder, decoder, processed, params)
    steps = fastest_steps(captioner.decoder.layers[-1])  # as the captioner decodes
    scores = score_decoder(steps, data, captioner.decoding.beam_width, captioner.decoding.length_penalty)
    pictures = pictures or Pictures.fit(captioner, data, params["honesty"]["acceptance"])
    captioner.judge, figures, described = fit_judge(captioner, data, pictures, params["honesty"])
    figures.update(outside_figures(captioner, outside))
    log.info("%s: %s", Path(decoder).name, {k: round(v, 3) for k, v in {**scores.metrics, **figures}.items()})
    return Evaluated(Path(decoder).name, captioner, scores, figures, pictures.images["test"],
                     described), pictures


def publish(evaluated: Evaluated, run_folder: Path, data: EvaluationData, params: Mapping[str, Any],
            validation: Path, samples: Path, test_set: str) -> dict[str, Any]:
    """Log ``evaluated`` to the run ``train`` opened (figures, sample sheet, predictions, the pyfunc with its
    judge, its exact float32 TFLite export and the float16 one if asked), register it and move ``production`` if
    it beats the current version (or that one was scored on another test set than ``test_set``,
    ``fingerprint_test_set``).

    Returns its report entry, with ``gate_metric`` (the figure the gate compared) and ``promoted``.
    """
    import mlflow
    from mlflow import MlflowClient

    from pipeline.models.lite import export_exact, export_float16
    from pipeline.models.pyfunc import describe, log_captioner
    from pipeline.tracking import TEST_SET_TAG, runs
    from pipeline.tracking.registry import promote_if_better

    kind, captioner, test = evaluated.kind, evaluated.captioner, data.splits["test"]
    report, served = evaluated.report(), evaluated.scores.captions
    sheet = Path(samples) / f"{kind}.png"
    count = int(params["samples"])
    pick = list(range(0, len(test.names), max(1, len(test.names) // count)))[:count]
    sample_sheet([test.paths[i] for i in pick], [served[i] for i in pick], [test.texts[i] for i in pick], sheet)
    gate_metric = data.gate_metric(params["gate_metric"])
    with runs.resume(run_folder), tempfile.TemporaryDirectory() as tmp:
        mlflow.log_metrics({f"test_{k}": v for k, v in report.items()})
        mlflow.log_metrics({f"human_{k}": v for k, v in data.human.items()})
        runs.log_params_again({"evaluate": dict(params)})  # a re-evaluation with other settings keeps the run
        mlflow.log_artifact(str(validation), "data")
        mlflow.log_artifact(str(sheet), "samples")
        mlflow.log_dict({"captions": dict(zip(test.names, served))}, "predictions/test.json")
        bundle, lite, float16 = Path(tmp) / "captioner", Path(tmp) / "captioner_lite", None
        captioner.save(bundle)
        figures = export_exact(captioner, lite, evaluated.test_images, evaluated.test_described)
        if params["float16"]:
            float16 = Path(tmp) / "captioner_float16"
            keras_captions = [d.caption for d in evaluated.test_described]
            figures.update(export_float16(captioner, bundle, float16, evaluated.test_images, keras_captions))
        mlflow.log_metrics(figures)
        report.update(figures)
        encoder = captioner.encoder
        info = describe(kind, encoder.name, encoder.output_shape[1:], captioner.decoding.beam_width)
        name = registered_name(kind)
        logged = log_captioner(bundle, info, registered_name=name, float16=float16, lite=lite)
        mlflow.set_tag(TEST_SET_TAG, test_set)
        decision = promote_if_better(MlflowClient(), name, int(logged.registered_model_version),
                                     f"test_{gate_metric}", report[gate_metric], required=JUDGED, test_set=test_set)
        mlflow.set_tag("mlflow.note.content", f"{kind}: {info['description']}; {decision.reason}")
    return {**report, "gate_metric": gate_metric, "promoted": decision.promoted}


def write_reports(report: Mapping[str, Mapping[str, Any]], metrics: Path, scores: Path,
                  columns: Sequence[str]) -> None:
    """``reports/metrics.json`` (every figure per decoder, and the human ceiling) and ``reports/scores.csv``
    (a DVC plot: each decoder's ``gate_score``, the value of its ``gate_metric``, which every dataset has, then
    its ``columns``, rounded)."""
    atomic_write_json(metrics, report)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=["decoder", "gate_score", *columns])
    writer.writeheader()
    for kind, figures in report.items():
        if kind != "human":
            writer.writerow({"decoder": kind, "gate_score": round(figures[figures["gate_metric"]], 4),
                             **{c: round(figures[c], 4) for c in columns if c in figures}})
    atomic_write_text(scores, table.getvalue())
