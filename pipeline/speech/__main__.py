"""Command line: ``python -m pipeline.speech "a dog runs on the grass" -o out.mp3 --lang en``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..files import atomic_write_bytes
from ..logs import setup_logging
from . import ENGINES, LANGUAGES, MIME_TYPES, Speaker, SpeechError, SpeechSettings

log = logging.getLogger("pipeline.speech")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; the output format comes from the file's extension."""
    defaults = SpeechSettings()
    parser = argparse.ArgumentParser(prog="python -m pipeline.speech", description="Speak a caption into a file.")
    parser.add_argument("text", help="text to speak; '-' reads it from standard input")
    parser.add_argument("-o", "--output", required=True, type=Path, help="output file, .mp3 or .wav (folders are made)")
    parser.add_argument("--lang", default=defaults.lang, help=f"one of {', '.join(LANGUAGES)} (default %(default)s)")
    parser.add_argument("--engine", default=defaults.engine, choices=ENGINES, help="default %(default)s")
    parser.add_argument("--rate", type=int, default=defaults.rate_wpm, help="words per minute (default %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    args = parser.parse_args(argv)
    args.fmt = args.output.suffix.lower().lstrip(".")
    if args.fmt not in MIME_TYPES:
        parser.error(f"cannot tell the format from {str(args.output)!r}: name it .mp3 or .wav")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns 0 on success, 2 for bad input, 1 when speech or writing failed."""
    args = parse_args(argv)
    setup_logging("DEBUG" if args.verbose else None)
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        result = Speaker().synthesize(text, lang=args.lang, engine=args.engine, fmt=args.fmt, rate=args.rate)
        atomic_write_bytes(args.output, result.audio)  # temporary sibling, then os.replace
    except ValueError as exc:  # every error a user can cause
        log.error("%s", exc)
        return 2
    except (SpeechError, OSError) as exc:
        log.error("%s", exc)
        return 1
    log.info("wrote %s: %.2f s of %s spoken by %s", args.output, result.duration_s, result.fmt, result.engine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
