import numpy as np
import pytest

from hardsample.samplers import LatentEntropySampler, MiningState
from hardsample.samplers.uncertainty import entropy

from .test_uncertainty import check_picks, state  # noqa: F401  (fixture)


@pytest.mark.parametrize("n, n_anchors", [(1, None), (20, None), (20, 5), (30, 7)])
def test_picks_unlabeled_distinct_and_sized(state, n, n_anchors):  # noqa: F811
    proposal = LatentEntropySampler(n_anchors=n_anchors, n_candidates=8).propose(
        state, n, np.random.RandomState(0))
    check_picks(state, proposal, n)
    assert proposal.anchors.shape == (n,)
    assert proposal.anchors.max() < len(state.y_labeled)
    np.testing.assert_array_equal(proposal.latent_codes, state.latent_codes[proposal.indices])


@pytest.mark.parametrize("selection", ["loss", "random"])
def test_reproducible(state, selection):  # noqa: F811
    sampler = LatentEntropySampler(anchor_selection=selection)
    a = sampler.propose(state, 20, np.random.RandomState(1)).indices
    b = sampler.propose(state, 20, np.random.RandomState(1)).indices
    np.testing.assert_array_equal(a, b)


def test_one_candidate_falls_back_to_nearest(state):  # noqa: F811
    # With one candidate per anchor and 4 picks per anchor, the rest come from the
    # best leftovers and the nearest available samples: still n distinct picks.
    proposal = LatentEntropySampler(n_anchors=3, n_candidates=1).propose(
        state, 12, np.random.RandomState(0))
    check_picks(state, proposal, 12)


def test_picks_are_more_uncertain_than_random(state):  # noqa: F811
    picks = LatentEntropySampler(n_candidates=16).propose(
        state, 30, np.random.RandomState(0)).indices
    random = np.random.RandomState(0).choice(state.available_indices, 30, replace=False)
    h = lambda idx: entropy(state.net.predict_proba(state.X_pool[idx])).mean()  # noqa: E731
    assert h(picks) > h(random)


def test_can_exhaust_a_small_pool(state):  # noqa: F811
    excluded = np.ones(len(state.excluded), dtype=bool)
    excluded[100:110] = False
    small = MiningState(**{**state.__dict__, "excluded": excluded})
    proposal = LatentEntropySampler().propose(small, 10, np.random.RandomState(0))
    assert sorted(proposal.indices) == list(range(100, 110))


@pytest.mark.parametrize("params, match", [
    (dict(n_candidates=0), "n_candidates"),
    (dict(anchor_selection="best"), "anchor_selection"),
    (dict(uniform_weight=-1.0), "uniform_weight"),
    (dict(step_size=0.0), "step_size"),
    (dict(n_anchors=0), "n_anchors"),
])
def test_bad_params_raise(state, params, match):  # noqa: F811
    with pytest.raises(ValueError, match=match):
        LatentEntropySampler(**params).propose(state, 5, np.random.RandomState(0))


def test_bad_input_raises(state):  # noqa: F811
    with pytest.raises(ValueError, match="only"):
        LatentEntropySampler().propose(state, state.n_available + 1, np.random.RandomState(0))
    no_latent = MiningState(**{**state.__dict__, "latent_index": None, "generator": None})
    with pytest.raises(ValueError, match="generator"):
        LatentEntropySampler().propose(no_latent, 3, np.random.RandomState(0))
