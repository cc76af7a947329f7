"""DVC stage ``evaluate``: score each decoder on the test split, fit its judge, log it to its MLflow run,
register it and gate ``production``."""

import argparse
import json
from pathlib import Path

from pipeline.config import load_params
from pipeline.stage import run


def main() -> None:
    """Parse the declared paths, read ``evaluate`` params, write metrics, plots and samples, register models."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("processed", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("encoder", type=Path)
    parser.add_argument("validation", type=Path, help="the Great Expectations result, logged with each run")
    parser.add_argument("metrics", type=Path, help="JSON metrics file, one entry per decoder")
    parser.add_argument("scores", type=Path, help="CSV of scores per decoder (a DVC plot)")
    parser.add_argument("samples", type=Path, help="folder for the sample sheets")
    parser.add_argument("models", type=Path, nargs="+", help="the trained decoders' folders (models/<decoder>)")
    args = parser.parse_args()
    params = load_params("evaluate")

    from pipeline.data.outside import outside_pictures
    from pipeline.data.preprocess import fingerprint_test_set
    from pipeline.models.evaluation import EvaluationData
    from pipeline.models.publish import evaluate_decoder, publish, write_reports

    data, outside = EvaluationData.load(args.processed, args.features), outside_pictures()
    report, columns, pictures = {"human": data.human}, [], None
    test_set = fingerprint_test_set(args.processed)
    for folder in args.models:
        evaluated, pictures = evaluate_decoder(folder, args.encoder, args.processed, data, params, outside, pictures)
        report[evaluated.kind] = publish(evaluated, folder, data, params, args.validation, args.samples, test_set)
        columns = [*evaluated.scores.metrics, *evaluated.figures]
    write_reports(report, args.metrics, args.scores, columns)
    print(json.dumps({k: {m: round(v, 4) for m, v in r.items() if isinstance(v, float)} for k, r in report.items()}))


if __name__ == "__main__":
    run(main)
