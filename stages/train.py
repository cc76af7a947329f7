"""DVC stage ``train@<decoder>``: train one decoder on the cached grids, tracked as an MLflow run."""

import argparse
from pathlib import Path

from pipeline.config import load_params
from pipeline.names import DECODERS
from pipeline.stage import run


def main() -> None:
    """Parse the declared paths, read ``train`` params, write the decoder, its run id and learning curve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("decoder", choices=DECODERS)
    parser.add_argument("processed", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("encoder", type=Path, help="the featurize stage's encoder folder (its params are logged)")
    parser.add_argument("out", type=Path, help="folder for the trained decoder (replaced)")
    parser.add_argument("curve", type=Path, help="CSV file for the per-epoch learning curve")
    args = parser.parse_args()

    from pipeline.models.tracked import train_tracked
    from pipeline.runtime import configure

    configure(load_params("runtime"))
    train_tracked(args.decoder, args.processed, args.features, args.encoder, args.out, args.curve,
                  load_params("train"))


if __name__ == "__main__":
    run(main)
