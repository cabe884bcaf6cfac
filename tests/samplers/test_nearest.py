import numpy as np
import pytest

from hardsample import LatentHardMiningClassifier
from hardsample.generators import PCAGenerator
from hardsample.samplers import NearestNeighborSampler
from hardsample.samplers._latent import split_evenly

from ..conftest import make_classifier_net


def make_state(digits, n_labeled=60, seed=0):
    """A mining state after one random round on digits, through the estimator."""
    X, y = digits
    clf = LatentHardMiningClassifier(
        make_classifier_net(), PCAGenerator(n_components=3), sampler="nearest",
        initial_size=n_labeled, n_rounds=1, random_state=seed,
    ).fit(X, y)
    return clf._mining_state(X)


def test_picks_are_unlabeled_distinct_and_sized(digits):
    state = make_state(digits)
    proposal = NearestNeighborSampler().propose(state, 50, np.random.RandomState(0))
    assert len(proposal.indices) == 50
    assert len(np.unique(proposal.indices)) == 50
    assert not state.excluded[proposal.indices].any()
    np.testing.assert_array_equal(proposal.latent_codes, state.latent_codes[proposal.indices])


def test_picks_are_the_nearest_unlabeled_to_the_stepped_codes(digits):
    from hardsample.hardness import hardness_step

    state = make_state(digits)
    sampler = NearestNeighborSampler(step_size=0.7)
    proposal = sampler.propose(state, 1, np.random.RandomState(3))
    anchor = proposal.anchors[0]
    stepped, _ = hardness_step(state.net, state.generator.decoder_, state.z_labeled[[anchor]],
                               state.y_labeled[[anchor]], 0.7)
    distances = ((state.latent_codes - stepped) ** 2).sum(1)
    distances[state.excluded] = np.inf
    assert proposal.indices[0] == np.argmin(distances)


def test_reproducible_with_seed(digits):
    state = make_state(digits)
    a = NearestNeighborSampler().propose(state, 30, np.random.RandomState(5)).indices
    b = NearestNeighborSampler().propose(state, 30, np.random.RandomState(5)).indices
    np.testing.assert_array_equal(a, b)


def test_fewer_anchors_than_picks(digits):
    state = make_state(digits)
    proposal = NearestNeighborSampler(n_anchors=4).propose(state, 10, np.random.RandomState(0))
    assert len(proposal.indices) == 10 and len(np.unique(proposal.indices)) == 10
    assert len(np.unique(proposal.anchors)) <= 4
    np.testing.assert_array_equal(split_evenly(10, 4), [3, 3, 2, 2])


def test_more_picks_than_labeled_anchors(digits):
    state = make_state(digits, n_labeled=5)
    proposal = NearestNeighborSampler().propose(state, 40, np.random.RandomState(0))
    assert len(np.unique(proposal.indices)) == 40


@pytest.mark.parametrize("bad", [0, -1.0, np.nan, "big"])
def test_bad_step_size(digits, bad):
    state = make_state(digits)
    with pytest.raises(ValueError, match="step_size"):
        NearestNeighborSampler(step_size=bad).propose(state, 5, np.random.RandomState(0))


def test_bad_n_anchors(digits):
    state = make_state(digits)
    with pytest.raises(ValueError, match="n_anchors"):
        NearestNeighborSampler(n_anchors=0).propose(state, 5, np.random.RandomState(0))


def test_snn_trajectories_visit_distinct_pool_samples(digits):
    from hardsample.samplers.nearest import snn_trajectories

    state = make_state(digits)
    starts = [0, 5, 9]
    paths = snn_trajectories(state.net, state.generator, state.latent_codes,
                             digits[1], starts, n_steps=6, step_size=0.5)
    assert paths.shape == (3, 7)
    np.testing.assert_array_equal(paths[:, 0], starts)
    for path in paths:
        assert len(np.unique(path)) == len(path)  # never revisits a sample
    again = snn_trajectories(state.net, state.generator, state.latent_codes, digits[1],
                             starts, n_steps=6, step_size=0.5)
    np.testing.assert_array_equal(paths, again)  # deterministic: no re-drawing


def test_zero_step_picks_the_anchors_own_neighbours(digits):
    state = make_state(digits)
    proposal = NearestNeighborSampler(step_direction="zero").propose(
        state, 5, np.random.RandomState(0))
    for index, anchor in zip(proposal.indices, proposal.anchors):
        distances = ((state.latent_codes - state.z_labeled[anchor]) ** 2).sum(1)
        distances[state.excluded] = np.inf
        assert distances[index] <= np.partition(distances, 4)[4] + 1e-9


def test_random_direction_keeps_the_cost_but_not_the_gradient(digits):
    from hardsample.hardness import hardness_step

    state = make_state(digits)
    rng = np.random.RandomState(0)
    gradient = NearestNeighborSampler(step_size=0.7).propose(state, 20, rng)
    random_dir = NearestNeighborSampler(step_size=0.7, step_direction="random").propose(
        state, 20, np.random.RandomState(0))
    np.testing.assert_array_equal(gradient.anchors, random_dir.anchors)  # same anchors
    assert set(gradient.indices) != set(random_dir.indices)
    _, direction = hardness_step(state.net, state.generator.decoder_,
                                 state.z_labeled[gradient.anchors],
                                 state.y_labeled[gradient.anchors], 0.7)
    moved = state.latent_codes[random_dir.indices] - state.z_labeled[random_dir.anchors]
    cosine = (moved * direction).sum(1) / (np.linalg.norm(moved, axis=1) + 1e-12)
    assert abs(np.mean(cosine)) < 0.5  # not aligned with the gradient on average


def test_snn_trajectories_never_return_to_their_start(digits):
    # A tiny step stays next to the current code: without the start marked visited, the
    # first move would go back to the start itself.
    from hardsample.samplers.nearest import snn_trajectories

    state = make_state(digits)
    starts = [0, 5, 9]
    paths = snn_trajectories(state.net, state.generator, state.latent_codes, digits[1],
                             starts, n_steps=3, step_size=1e-6)
    for start, path in zip(starts, paths):
        assert path[0] == start and start not in path[1:]
        assert len(np.unique(path)) == len(path)


def test_as_many_anchors_as_labeled_samples_are_distinct(digits):
    # n_anchors == n_labeled: every labeled sample is an anchor once (drawn without
    # replacement), whatever the seed.
    state = make_state(digits, n_labeled=8)
    for seed in range(5):
        proposal = NearestNeighborSampler(n_anchors=8).propose(
            state, 16, np.random.RandomState(seed))
        assert sorted(proposal.anchors.tolist()) == sorted(list(range(8)) * 2)


def test_snn_trajectories_defaults_bad_step_and_given_index(digits):
    from hardsample.neighbors import LatentIndex
    from hardsample.samplers.nearest import snn_trajectories

    state = make_state(digits)
    args = (state.net, state.generator, state.latent_codes, digits[1], [3, 7])
    default = snn_trajectories(*args)
    assert default.shape == (2, 11)  # n_steps=10
    np.testing.assert_array_equal(default, snn_trajectories(*args, n_steps=10, step_size=1.0))
    for bad in [0, 0.0, -1.0, np.nan, np.inf, True]:
        with pytest.raises(ValueError, match="step_size must be a positive finite number, got"):
            snn_trajectories(*args, n_steps=1, step_size=bad)

    class CountingIndex(LatentIndex):
        calls = 0

        def nearest_available(self, *a, **k):
            CountingIndex.calls += 1
            return super().nearest_available(*a, **k)

    index = CountingIndex().fit(state.latent_codes)
    given = snn_trajectories(*args, n_steps=2, latent_index=index)
    assert CountingIndex.calls == 2 * 2  # one query per trajectory and step, on that index
    np.testing.assert_array_equal(given, default[:, :3])


def test_without_a_generator_the_error_names_the_sampler(digits):
    from dataclasses import replace

    state = replace(make_state(digits), generator=None)
    with pytest.raises(ValueError, match="^NearestNeighborSampler mines in a latent space"):
        NearestNeighborSampler().propose(state, 5, np.random.RandomState(0))
