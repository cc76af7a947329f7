"""DVC stage ``featurize``: train (or load) the CNN encoder and cache every image's feature grid."""

import argparse
import json
import time
from pathlib import Path

from pipeline.config import load_params
from pipeline.files import atomic_write_json
from pipeline.stage import run


def main() -> None:
    """Parse the declared paths, read ``featurize`` params, write the encoder and the grids."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("processed", type=Path, help="the preprocessed folder (captions.csv, vocabulary.json)")
    parser.add_argument("encoder", type=Path, help="folder for the encoder (replaced)")
    parser.add_argument("features", type=Path, help="folder for the cached grids (replaced)")
    args = parser.parse_args()
    params = load_params("featurize")

    from pipeline.files import atomic_dir
    from pipeline.models.encoder import weights_record
    from pipeline.models.features import save_grids
    from pipeline.models.inputs import load_splits, load_tokenizer
    from pipeline.models.training import extract, make_encoder
    from pipeline.names import ENCODER_FILE
    from pipeline.runtime import configure

    configure(load_params("runtime"))
    tokenizer = load_tokenizer(args.processed)
    splits = load_splits(args.processed, tokenizer)
    began = time.perf_counter()
    encoder, history = make_encoder(params, splits, tokenizer)
    trained = time.perf_counter()
    with atomic_dir(args.features) as tmp:
        for split, data in splits.items():
            save_grids(tmp, split, data.names, extract(encoder, data.paths))
    seconds = {"training": round(trained - began, 1), "extraction": round(time.perf_counter() - trained, 1)}
    with atomic_dir(args.encoder) as tmp:
        encoder.save(tmp / ENCODER_FILE)
        atomic_write_json(tmp / "config.json", {"params": params, "weights": weights_record(params),
                                                "history": history, "seconds": seconds,
                                                "grid_shape": list(encoder.output_shape[1:])})
    print(json.dumps({"featurize_seconds": seconds}))


if __name__ == "__main__":
    run(main)
