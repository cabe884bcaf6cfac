"""Synthesis that climbs the predictive variance (InterpolationSampler objective="variance")
and its same-cost control, ScreenedPriorSampler ("screened-prior")."""
import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from hardsample import LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator
from hardsample.samplers import SAMPLERS, InterpolationSampler, MiningState, ScreenedPriorSampler
from hardsample.samplers._ascent import ascend_variance
from hardsample.samplers.interpolation import draw_prior
from hardsample.samplers.uncertainty import top_n
from hardsample.uncertainty import DeepEnsemble, MCDropout

from ..conftest import make_classifier_net, make_regressor_net


@pytest.fixture(scope="module")
def one_sided():
    """2-D inputs, a linear decoder; labels only where the first code is negative."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2)).astype(np.float32)
    generator = PCAGenerator(2, random_state=0).fit(X)
    codes = generator.transform(X)
    labeled = np.flatnonzero(codes[:, 0] < -0.5)[:40]
    y = np.sin(2 * X[labeled, :1]) + X[labeled, 1:]
    torch.manual_seed(0)
    net = make_regressor_net(train_split=None, max_epochs=40, lr=0.03).fit(X[labeled], y)
    excluded = np.zeros(len(X), dtype=bool)
    excluded[labeled] = True
    return MiningState(X_pool=X, latent_codes=codes, excluded=excluded, X_labeled=X[labeled],
                       y_labeled=y.astype(np.float32), z_labeled=codes[labeled], net=net,
                       generator=generator)


def test_ascent_climbs_the_variance_within_the_trust_region(one_sided):
    state = one_sided
    source = DeepEnsemble(n_members=4).fit(state.net, state.X_labeled, state.y_labeled, 0)
    start = state.z_labeled[:12]
    climbed = ascend_variance(source, state.generator, start, np.full(12, 2.0), n_steps=10,
                              prior_weight=0.0)
    moved = np.linalg.norm(climbed - start, axis=1)
    assert moved.max() <= 2.0 + 1e-4 and moved.min() > 0.5
    var_start = source.predict_mean_var(state.generator.inverse_transform(start))[1]
    var_climbed = source.predict_mean_var(state.generator.inverse_transform(climbed))[1]
    assert np.mean(var_climbed > var_start) >= 0.9 and np.median(var_climbed / var_start) > 2
    # a strong prior term pulls the codes towards the prior's mode
    held = ascend_variance(source, state.generator, start, np.full(12, 2.0), n_steps=10,
                           prior_weight=100.0)
    assert np.linalg.norm(held, axis=1).mean() < np.linalg.norm(climbed, axis=1).mean()


def test_variance_objective_proposes_synthetic_samples(one_sided):
    sampler = InterpolationSampler(objective="variance", step_size=1.5, n_anchors=3,
                                   uncertainty=DeepEnsemble(n_members=3), n_ascent_steps=5)
    proposal = sampler.propose(one_sided, 6, np.random.RandomState(0))
    assert proposal.X.shape == (6, 2) and proposal.latent_codes.shape == (6, 2)
    np.testing.assert_array_equal(proposal.anchors[::2], proposal.anchors[1::2])
    travelled = np.linalg.norm(proposal.latent_codes - one_sided.z_labeled[proposal.anchors],
                               axis=1)
    limits = np.tile([1.5, 3.0], 3)  # the j-th sample of an anchor: at most j * step_size
    assert (travelled <= limits + 1e-4).all()
    assert {"uncertainty_training", "ascent", "decoding"} == set(proposal.timings)
    again = sampler.propose(one_sided, 6, np.random.RandomState(0))
    np.testing.assert_array_equal(proposal.X, again.X)


def test_variance_ascent_with_mc_dropout(one_sided):
    state = one_sided
    torch.manual_seed(0)
    net = make_regressor_net(module__dropout=0.2, train_split=None, max_epochs=10).fit(
        state.X_labeled, state.y_labeled)
    state = MiningState(**{**state.__dict__, "net": net})
    sampler = InterpolationSampler(objective="variance", uncertainty=MCDropout(n_samples=8),
                                   n_ascent_steps=3)
    proposal = sampler.propose(state, 4, np.random.RandomState(1))
    assert np.isfinite(proposal.X).all() and proposal.timings["uncertainty_training"] < 0.05


def test_screened_prior_labels_the_most_uncertain_prior_draws(one_sided):
    sampler = ScreenedPriorSampler(uncertainty=DeepEnsemble(n_members=3), n_candidates=7)
    proposal = sampler.propose(one_sided, 5, np.random.RandomState(3))
    rng = np.random.RandomState(3)
    candidates = draw_prior(one_sided, 35, rng)
    source = DeepEnsemble(n_members=3).fit(one_sided.net, one_sided.X_labeled,
                                           one_sided.y_labeled, rng)
    variance = source.predict_mean_var(candidates.X)[1]
    expected = np.sort(top_n(variance, 5, rng))
    np.testing.assert_array_equal(proposal.latent_codes, candidates.latent_codes[expected])
    assert SAMPLERS["screened-prior"] is ScreenedPriorSampler


@pytest.mark.parametrize("sampler, task, net, message", [
    (InterpolationSampler(objective="variance"), "classification", make_classifier_net(),
     "regression targets only"),
    (ScreenedPriorSampler(), "classification", make_classifier_net(), "regression targets only"),
    (InterpolationSampler(objective="variance", step_direction="random"), "regression",
     make_regressor_net(), "screened-prior"),
    (InterpolationSampler(objective="variance", uncertainty=MCDropout()), "regression",
     make_regressor_net(), "dropout layers"),
    (ScreenedPriorSampler(uncertainty=DeepEnsemble(n_members=1)), "regression",
     make_regressor_net(), "n_members"),
    (InterpolationSampler(objective="gain"), "regression", make_regressor_net(), "objective"),
    (InterpolationSampler(prior_weight=-1.0), "regression", make_regressor_net(),
     "prior_weight"),
])
def test_check_compatible_refuses(sampler, task, net, message):
    with pytest.raises((TypeError, ValueError, InvalidParameterError), match=message):
        sampler.check_compatible(task=task, net=net, generator=None)


def test_loss_objective_is_unchanged_and_works_for_classes():
    sampler = InterpolationSampler()
    assert sampler.task is None and InterpolationSampler(objective="variance").task == "regression"
    sampler.check_compatible(task="classification", net=make_classifier_net(),
                             generator=PCAGenerator(n_components=2))


@pytest.mark.parametrize("sampler", [InterpolationSampler(objective="variance"),
                                     "screened-prior"])
def test_refused_by_a_classifier_before_any_label(sampler):
    X = np.random.RandomState(0).rand(60, 4).astype(np.float32)
    calls = []

    def tool(batch):
        calls.append(len(batch))
        return (batch[:, 0] > 0.5).astype(np.int64)

    clf = LatentHardMiningClassifier(make_classifier_net(), PCAGenerator(2), sampler=sampler,
                                     initial_size=10, round_size=5, n_rounds=2, random_state=0)
    with pytest.raises(TypeError, match="regression targets only"):
        clf.fit(X, oracle=tool, classes=[0, 1])
    assert calls == []


@pytest.mark.parametrize("sampler", [
    InterpolationSampler(objective="variance", uncertainty=DeepEnsemble(n_members=2),
                         n_ascent_steps=3),
    ScreenedPriorSampler(uncertainty=DeepEnsemble(n_members=2))])
def test_regressor_with_a_labeling_tool(sampler):
    X = np.random.RandomState(0).rand(80, 6).astype(np.float32)
    reg = LatentHardMiningRegressor(
        make_regressor_net(max_epochs=2), PCAGenerator(2), sampler=sampler, initial_size=10,
        round_size=5, n_rounds=3, random_state=0,
    ).fit(X, oracle=lambda batch: np.sin(3 * batch).sum(axis=1))
    assert reg.X_synthetic_.shape == (20, 6)
    assert reg.history_[2]["mining_split"]["uncertainty_training"] > 0
