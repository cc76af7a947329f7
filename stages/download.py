"""DVC stage ``download``: the raw dataset (embedded or Flickr8k) in Flickr8k's layout."""

import argparse
from pathlib import Path

from pipeline.config import load_params
from pipeline.data.download import download
from pipeline.stage import run


def main() -> None:
    """Parse the declared paths, read ``download`` params, build the raw dataset."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for the raw dataset (replaced)")
    parser.add_argument("cache", type=Path, help="folder keeping fetched archives between runs")
    args = parser.parse_args()
    download(load_params("download"), args.out, args.cache)


if __name__ == "__main__":
    run(main)
