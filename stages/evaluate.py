"""DVC stage ``evaluate``: score each decoder on the test split, log it to its MLflow run, register, gate."""

import argparse
import csv
import io
import json
import tempfile
from pathlib import Path

from pipeline.config import load_params
from pipeline.files import atomic_write_json, atomic_write_text
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

    import keras
    import mlflow
    from mlflow import MlflowClient

    from pipeline.data.preprocess import SCENES_FILE
    from pipeline.metrics.ceiling import human_bleu
    from pipeline.models.captioner import Captioner, Decoding
    from pipeline.models.evaluation import generate, load_scenes, sample_sheet, score
    from pipeline.models.features import load_grids
    from pipeline.models.float16 import export, load_images
    from pipeline.models.inputs import load_splits, load_tokenizer
    from pipeline.models.pyfunc import describe, log_captioner
    from pipeline.tracking import runs
    from pipeline.tracking.registry import promote_if_better

    tokenizer = load_tokenizer(args.processed)
    test = load_splits(args.processed, tokenizer)["test"]
    names, grids = load_grids(args.features, "test")
    assert names == test.names, "the cached grids do not match the caption table: rerun featurize"
    scenes_path = args.processed / SCENES_FILE
    scenes = load_scenes(scenes_path) if scenes_path.is_file() else None
    gate_metric = params["gate_metric"] if params["gate_metric"] != "auto" else ("content" if scenes else "bleu4")
    human = dict(zip(("bleu1", "bleu2", "bleu3", "bleu4"), human_bleu([[r.split() for r in t] for t in test.texts])))
    encoder = keras.models.load_model(args.encoder / "encoder.keras", compile=False)
    decoding = Decoding.from_params(params)
    report, rows, images = {"human": human}, [], None
    for folder in args.models:
        kind = folder.name
        model = keras.models.load_model(folder / "decoder.keras", compile=False)
        greedy, greedy_s = generate(model.layers[-1], grids, tokenizer, 1, decoding.length_penalty)
        beam, beam_s = generate(model.layers[-1], grids, tokenizer, decoding.beam_width, decoding.length_penalty)
        served = beam if decoding.beam_width > 1 else greedy
        metrics = score(served, test.texts, names, scenes)
        extra = {f"greedy_{k}": v for k, v in score(greedy, test.texts, names, scenes).items()}
        extra.update({f"beam_{k}": v for k, v in score(beam, test.texts, names, scenes).items()})
        extra.update(greedy_ms_per_image=1000 * greedy_s, beam_ms_per_image=1000 * beam_s)
        report[kind] = {**metrics, **extra}
        rows.append({"decoder": kind, **{k: round(v, 4) for k, v in metrics.items()}})
        sheet = args.samples / f"{kind}.png"
        pick = list(range(0, len(names), max(1, len(names) // int(params["samples"]))))[: int(params["samples"])]
        sample_sheet([test.paths[i] for i in pick], [served[i] for i in pick], [test.texts[i] for i in pick], sheet)
        with runs.resume(folder), tempfile.TemporaryDirectory() as tmp:
            mlflow.log_metrics({f"test_{k}": v for k, v in {**metrics, **extra}.items()})
            mlflow.log_metrics({f"human_{k}": v for k, v in human.items()})
            runs.log_params_again({"evaluate": params})  # a re-evaluation with other settings keeps the run
            mlflow.log_artifact(str(args.validation), "data")
            mlflow.log_artifact(str(sheet), "samples")
            mlflow.log_dict({"captions": dict(zip(names, served))}, "predictions/test.json")
            captioner = Captioner(encoder, model, tokenizer.vocabulary, decoding)
            bundle, float16 = Path(tmp) / "captioner", None
            captioner.save(bundle)
            if params["float16"]:
                images = load_images(captioner, test.paths) if images is None else images
                float16 = Path(tmp) / "captioner_float16"
                figures = export(captioner, bundle, float16, images)
                mlflow.log_metrics(figures)
                report[kind].update(figures)
            info = describe(kind, encoder.name, encoder.output_shape[1:], decoding.beam_width)
            logged = log_captioner(bundle, info, registered_name=f"captioner-{kind}", float16=float16)
            decision = promote_if_better(MlflowClient(), f"captioner-{kind}", int(logged.registered_model_version),
                                         f"test_{gate_metric}", metrics[gate_metric])
            report[kind]["promoted"] = decision.promoted
            mlflow.set_tag("mlflow.note.content", f"{kind}: {info['description']}; {decision.reason}")
    atomic_write_json(args.metrics, report)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(args.scores, table.getvalue())
    print(json.dumps({k: {m: round(v, 4) for m, v in r.items() if isinstance(v, float)} for k, r in report.items()}))


if __name__ == "__main__":
    run(main)
