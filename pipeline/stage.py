"""Running a stage: logging set up, and errors a user can fix shown as a message, not a traceback."""

from __future__ import annotations

import logging
import sys
from typing import Callable

from pipeline.errors import UserError

log = logging.getLogger("stage")


USER_ERRORS = (UserError, FileNotFoundError)  # "fix your params, files or data", each with a message that says how


def run(main: Callable[[], None]) -> None:
    """Call a stage's ``main``; on a user error log it and exit 1 (DVC then stops the pipeline)."""
    from pipeline.logs import setup_logging

    setup_logging()
    try:
        main()
    except USER_ERRORS as error:
        log.error("%s", error)
        sys.exit(1)
