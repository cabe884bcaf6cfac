"""latent_step: the anchors and the latent step every latent sampler starts from."""

import numpy as np
import pytest

from hardsample.hardness import hardness_step
from hardsample.samplers._latent import latent_step, split_evenly

from .test_uncertainty import state  # noqa: F401  (fixture: digits, a net, a PCA generator)


class _State:
    """The part of a MiningState that latent_step reads (no net: the step is not
    the gradient here)."""

    generator = object()
    net = None

    def __init__(self, z_labeled):
        self.z_labeled = np.asarray(z_labeled)  # float64: latent_step makes it float32
        self.y_labeled = np.zeros(len(z_labeled))


def _codes(n, dim=2, seed=0):
    return np.random.RandomState(seed).randn(n, dim)


@pytest.mark.parametrize("seed", range(4))
def test_weighted_anchors_are_distinct_when_as_many_as_the_coded_samples(seed):
    # Two of five labeled samples have no code: the anchors are drawn by weight among
    # the three others, without replacement while there are enough of them.
    z = _codes(5)
    z[[1, 3]] = np.nan
    step = latent_step(_State(z), 3, np.random.RandomState(seed), step_size=1.0,
                       direction="zero")
    assert sorted(step.anchors.tolist()) == [0, 2, 4]
    weighted = latent_step(_State(_codes(3)), 3, np.random.RandomState(seed), step_size=1.0,
                           weights=[1.0, 2.0, 3.0], direction="zero")
    assert sorted(weighted.anchors.tolist()) == [0, 1, 2]


def test_weights_steer_the_anchors():
    step = latent_step(_State(_codes(4)), 40, np.random.RandomState(0), step_size=1.0,
                       n_anchors=20, weights=[0.0, 0.0, 1.0, 0.0], direction="zero")
    assert set(step.anchors.tolist()) == {2}  # drawn with replacement: 20 > 1 coded


def test_anchors_counts_and_codes():
    z = _codes(6)
    step = latent_step(_State(z), 7, np.random.RandomState(0), step_size=0.5, n_anchors=3,
                       direction="zero")
    assert step.anchors.dtype == np.int64 and len(np.unique(step.anchors)) == 3
    np.testing.assert_array_equal(step.counts, [3, 2, 2])
    np.testing.assert_array_equal(step.anchor_of_each, np.repeat(step.anchors, [3, 2, 2]))
    np.testing.assert_array_equal(step.codes, z[step.anchors].astype(np.float32))
    np.testing.assert_array_equal(step.stepped, step.codes)  # "zero": no step
    assert step.stepped.dtype == step.codes.dtype == np.float32
    assert step.direction.shape == step.codes.shape and not step.direction.any()
    # never more anchors than samples proposed
    fewer = latent_step(_State(z), 2, np.random.RandomState(0), step_size=0.5, n_anchors=5,
                        direction="zero")
    assert len(fewer.anchors) == 2 and fewer.counts.tolist() == [1, 1]


def test_random_direction_is_a_unit_step_of_step_size():
    step = latent_step(_State(_codes(4, dim=3)), 4, np.random.RandomState(0), step_size=0.3,
                       direction="random")
    np.testing.assert_allclose(np.linalg.norm(step.direction, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(step.stepped, step.codes + 0.3 * step.direction, rtol=1e-6)
    assert step.stepped.dtype == np.float32


def test_split_evenly():
    np.testing.assert_array_equal(split_evenly(7, 7), np.ones(7))
    np.testing.assert_array_equal(split_evenly(5, 2), [3, 2])
    assert split_evenly(6, 3).sum() == 6


def test_bad_input_names_the_problem():
    state = _State(_codes(3))
    state.generator = None
    with pytest.raises(ValueError, match="^MySampler mines in a latent space"):
        latent_step(state, 2, np.random.RandomState(0), step_size=1.0, name="MySampler")
    with pytest.raises(ValueError, match="^This sampler mines in a latent space"):
        latent_step(state, 2, np.random.RandomState(0), step_size=1.0)
    with pytest.raises(ValueError, match="^MySampler steps from labeled samples' latent codes"):
        latent_step(_State(np.empty((3, 0))), 2, np.random.RandomState(0), step_size=1.0,
                    direction="zero", name="MySampler")
    with pytest.raises(ValueError, match=r"direction must be one of .*'sideways'"):
        latent_step(_State(_codes(3)), 2, np.random.RandomState(0), step_size=1.0,
                    direction="sideways")


def test_the_default_step_is_the_loss_gradient(state):  # noqa: F811
    step = latent_step(state, 4, np.random.RandomState(0), step_size=0.5)
    expected, _ = hardness_step(state.net, state.generator.decoder_, step.codes,
                                state.y_labeled[step.anchors], 0.5)
    np.testing.assert_allclose(step.stepped, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(step.stepped - step.codes, axis=1), 0.5,
                               rtol=1e-4)
