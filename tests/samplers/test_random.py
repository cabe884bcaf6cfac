import numpy as np
import pytest

from hardsample.samplers import RandomSampler

from .test_nearest import make_state


def test_random_sampler(digits):
    state = make_state(digits)
    a = RandomSampler().propose(state, 100, np.random.RandomState(1)).indices
    b = RandomSampler().propose(state, 100, np.random.RandomState(1)).indices
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 100 and not state.excluded[a].any()
    with pytest.raises(ValueError, match="unlabeled"):
        RandomSampler().propose(state, state.n_available + 1, np.random.RandomState(0))
