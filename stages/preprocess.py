"""DVC stage ``preprocess``: the caption table, its vocabulary and the data validation report."""

import argparse
from pathlib import Path

from pipeline.config import load_params
from pipeline.data.preprocess import PreprocessConfig, preprocess
from pipeline.files import atomic_write_json
from pipeline.stage import run


def main() -> None:
    """Parse the declared paths, read ``preprocess`` params, write the table, vocabulary and reports."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", type=Path, help="the raw dataset folder (either Flickr8k layout)")
    parser.add_argument("out", type=Path, help="folder for the caption table and vocabulary (replaced)")
    parser.add_argument("validation", type=Path, help="JSON file for the Great Expectations result")
    parser.add_argument("metrics", type=Path, help="JSON file for the data counts")
    args = parser.parse_args()
    counts = preprocess(args.raw, PreprocessConfig.from_params(load_params("preprocess")), args.out, args.validation)
    atomic_write_json(args.metrics, counts)


if __name__ == "__main__":
    run(main)
