import time

import pytest

from hardsample._timing import Stopwatch


def test_stages_sum_over_repeats():
    watch = Stopwatch()
    for _ in range(2):
        with watch("sleep"):
            time.sleep(0.01)
    with watch("other"):
        pass
    assert set(watch.seconds) == {"sleep", "other"}
    assert watch.seconds["sleep"] >= 0.02
    assert 0 <= watch.seconds["other"] < watch.seconds["sleep"]


def test_a_stage_that_raises_is_still_timed():
    watch = Stopwatch()
    with pytest.raises(RuntimeError):
        with watch("failing"):
            time.sleep(0.01)
            raise RuntimeError("boom")
    assert watch.seconds["failing"] >= 0.01
