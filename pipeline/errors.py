"""Errors a user can fix (a setting, a file, a dataset): the stage runner shows their message, not a traceback."""


class UserError(Exception):
    """A condition the user can fix; the message says what was wrong and what to do."""


class ParamsError(UserError, ValueError):
    """A params.yaml setting is missing or out of range."""
