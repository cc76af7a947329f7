"""Running a stage: logging set up, and errors a user can fix shown as a message, not a traceback."""

from __future__ import annotations

import logging
import sys
from typing import Callable

log = logging.getLogger("stage")


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "fix your params or data", each with a message that says how."""
    from pipeline.data.archives import ArchiveError
    from pipeline.data.fetch import DownloadError
    from pipeline.data.layout import LayoutError
    from pipeline.data.validation import DataValidationError

    return ArchiveError, DownloadError, LayoutError, DataValidationError, ValueError, KeyError, FileNotFoundError


def run(main: Callable[[], None]) -> None:
    """Call a stage's ``main``; on a user error log it and exit 1 (DVC then stops the pipeline)."""
    from pipeline.logs import setup_logging

    setup_logging()
    try:
        main()
    except _user_errors() as error:
        log.error("%s", error)
        sys.exit(1)
