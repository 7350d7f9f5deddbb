"""The errors a user of the suite can meet. Each message names the problem and the fix."""
from __future__ import annotations


class DataError(RuntimeError):
    """A missing, truncated or corrupt file (MNIST, a checkpoint, the classifier's weights)."""


class ParameterError(ValueError):
    """An unknown parameter, a wrong type or a bad value; the message names the key and the fix."""


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the epoch and step."""
