"""Wall-clock seconds per named stage, for the mining split of ``history_``."""

import time
from contextlib import contextmanager


class Stopwatch:
    """Sum the seconds spent in each named stage.

    Examples
    --------
    >>> from hardsample._timing import Stopwatch
    >>> watch = Stopwatch()
    >>> with watch("gradient"):
    ...     pass
    >>> with watch("gradient"):
    ...     pass
    >>> sorted(watch.seconds)
    ['gradient']
    """

    def __init__(self):
        self.seconds = {}

    @contextmanager
    def __call__(self, stage):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start
