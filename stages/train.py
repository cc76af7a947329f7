"""DVC stage ``train@<decoder>``: train one decoder on the cached grids, tracked as an MLflow run."""

import argparse
import csv
import io
import json
from pathlib import Path

from pipeline.config import load_params
from pipeline.files import atomic_write_json, atomic_write_text
from pipeline.stage import run

TRACED_DATA = ["data/processed", "data/features", "models/encoder"]


def main() -> None:
    """Parse the declared paths, read ``train`` params, write the decoder, its run id and learning curve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("decoder", choices=("lstm", "transformer"))
    parser.add_argument("processed", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("encoder", type=Path, help="the featurize stage's encoder folder (its params are logged)")
    parser.add_argument("out", type=Path, help="folder for the trained decoder (replaced)")
    parser.add_argument("curve", type=Path, help="CSV file for the per-epoch learning curve")
    args = parser.parse_args()
    params = load_params("train")
    own = params[args.decoder]

    import mlflow

    from pipeline.files import atomic_dir
    from pipeline.models.features import load_grids
    from pipeline.models.inputs import load_splits, load_tokenizer
    from pipeline.models.training import Fit, train_decoder
    from pipeline.runtime import configure
    from pipeline.tracking import runs

    configure(load_params("runtime"))

    tokenizer = load_tokenizer(args.processed)
    splits = load_splits(args.processed, tokenizer)
    grids = {split: load_grids(args.features, split)[1] for split in ("train", "dev")}
    encoder_config = json.loads((args.encoder / "config.json").read_text())
    featurize = {**encoder_config["params"], **encoder_config.get("weights", {})}  # the file's sha256 too
    logged = {"decoder": args.decoder, "train": own, "featurize": featurize}
    with runs.start(args.decoder, logged, TRACED_DATA) as active:
        mlflow.log_dict(encoder_config, "featurize.json")
        fit = Fit(**{**params["fit"], **own.get("fit", {})})
        model, history = train_decoder(args.decoder, grids, splits, tokenizer, fit, own["sizes"],
                                       callbacks=[runs.EpochMetrics()])
        best = min(range(len(history["val_loss"])), key=history["val_loss"].__getitem__)
        mlflow.log_metrics({"best_epoch": best + 1, "best_val_loss": history["val_loss"][best]})
        with atomic_dir(args.out) as tmp:
            model.save(tmp / "decoder.keras")
            atomic_write_json(tmp / runs.RUN_FILE, {"run_id": active.info.run_id, "best_epoch": best + 1})
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["epoch", *history])
    writer.writerows([epoch + 1, *(values[epoch] for values in history.values())] for epoch in range(best_len(history)))
    atomic_write_text(args.curve, rows.getvalue())


def best_len(history: dict) -> int:
    """Number of epochs run."""
    return len(next(iter(history.values())))


if __name__ == "__main__":
    run(main)
