"""The one exception type users need to catch."""


class NeurocodecError(Exception):
    """Bad input or a file that cannot be decoded; the message is one line for the user."""
