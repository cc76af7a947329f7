"""The train stage's work: one decoder trained on the cached grids as an MLflow run, its files and curve written."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.files import atomic_dir, atomic_write_json, atomic_write_text
from pipeline.names import DECODER_FILE


def train_tracked(decoder: str, processed: Path, features: Path, encoder: Path, out: Path, curve: Path,
                  params: Mapping[str, Any]) -> None:
    """Train ``decoder`` with the ``train`` section ``params`` in a new MLflow run tagged with the DVC hashes of its
    inputs; write ``out`` (the decoder and its run id, replaced as a whole) and ``curve`` (per-epoch CSV)."""
    import mlflow

    from pipeline.models.features import load_grids
    from pipeline.models.inputs import load_splits, load_tokenizer
    from pipeline.models.training import Fit, train_decoder
    from pipeline.tracking import runs

    own = params[decoder]
    tokenizer = load_tokenizer(processed)
    splits = load_splits(processed, tokenizer)
    grids = {split: load_grids(features, split)[1] for split in ("train", "dev")}
    encoder_config = json.loads((Path(encoder) / "config.json").read_text())
    featurize = {**encoder_config["params"], **encoder_config.get("weights", {})}  # the weights file's sha256 too
    logged = {"decoder": decoder, "train": own, "featurize": featurize}
    with runs.start(decoder, logged, [str(processed), str(features), str(encoder)]) as active:
        mlflow.log_dict(encoder_config, "featurize.json")
        fit = Fit(**{**params["fit"], **own.get("fit", {})})
        model, history = train_decoder(decoder, grids, splits, tokenizer, fit, own["sizes"],
                                       callbacks=[runs.EpochMetrics()])
        best = min(range(len(history["val_loss"])), key=history["val_loss"].__getitem__)
        mlflow.log_metrics({"best_epoch": best + 1, "best_val_loss": history["val_loss"][best]})
        with atomic_dir(out) as tmp:
            model.save(tmp / DECODER_FILE)
            atomic_write_json(tmp / runs.RUN_FILE, {"run_id": active.info.run_id, "best_epoch": best + 1})
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["epoch", *history])
    epochs = len(history["val_loss"])
    writer.writerows([epoch + 1, *(values[epoch] for values in history.values())] for epoch in range(epochs))
    atomic_write_text(curve, rows.getvalue())
