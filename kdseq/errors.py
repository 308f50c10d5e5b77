"""The one error type for user mistakes: its message names the file, line or flag and says what to do."""


class KdseqError(Exception):
    """A user-facing error (bad input, bad flag). CLIs print it as one line and exit with status 2."""
