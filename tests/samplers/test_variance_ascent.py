"""Synthesis that climbs the predictive variance (InterpolationSampler objective="variance")
and its same-cost control, ScreenedPriorSampler ("screened-prior")."""
import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.utils._param_validation import InvalidParameterError

from hardsample import LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator
from hardsample.samplers import SAMPLERS, InterpolationSampler, MiningState, ScreenedPriorSampler
from hardsample.samplers._ascent import (VARIANCE_FLOOR, ascend_variance, prior_penalty,
                                         variance_objective)
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


class _LinearDraws:
    """A fake uncertainty source: draw ``k`` of a code batch ``x`` is ``x @ weights[k]``.

    Outputs have shape ``(weights.shape[2],)``; the draws agree (zero variance) at
    ``x = 0`` and wherever all weights are equal.
    """

    def __init__(self, weights):
        self.weights = torch.as_tensor(np.asarray(weights, dtype=np.float32))

    def draws_tensor(self, x, position=0):
        return torch.stack([x @ w for w in self.weights.to(x.device)])


PRIOR_MEAN = np.array([1.0, -2.0], dtype=np.float32)
PRIOR_SCALE = np.array([[2.0, 0.0], [1.0, 1.0]], dtype=np.float32)  # L, lower triangular


def _generator(mean=PRIOR_MEAN, scale=PRIOR_SCALE):
    """A fitted generator reduced to the contract: an identity decoder, a Gaussian prior."""
    generator = SimpleNamespace(decoder_=torch.nn.Identity())
    if mean is not None:
        generator.prior_mean_ = mean
    if scale is not None:
        generator.prior_scale_ = scale
    return generator


def test_prior_penalty_is_the_negative_log_density_of_the_prior():
    z = np.array([[0.0, 0.0], [3.0, 1.0], [-1.0, 2.5], [1.0, -2.0]])
    fitted = stats.multivariate_normal(PRIOR_MEAN, PRIOR_SCALE @ PRIOR_SCALE.T)
    penalty = prior_penalty(torch.as_tensor(z), torch.as_tensor(PRIOR_MEAN, dtype=torch.float64),
                            torch.as_tensor(PRIOR_SCALE, dtype=torch.float64))
    np.testing.assert_allclose(penalty.numpy(), fitted.logpdf(PRIOR_MEAN) - fitted.logpdf(z),
                               rtol=1e-10)
    standard = stats.multivariate_normal(np.zeros(2), np.eye(2))
    penalty = prior_penalty(torch.as_tensor(z))
    np.testing.assert_allclose(penalty.numpy(), standard.logpdf([0, 0]) - standard.logpdf(z),
                               rtol=1e-10)


def test_variance_objective_is_the_log_variance_plus_the_log_prior_density():
    weights = np.random.RandomState(0).normal(size=(4, 2, 3))  # 4 draws, 3 outputs
    source = _LinearDraws(weights)
    z = torch.tensor([[0.5, -1.0], [2.0, 0.3], [0.0, 0.0], [-1.0, -1.5], [0.1, 0.2]])
    prior = (torch.as_tensor(PRIOR_MEAN), torch.as_tensor(PRIOR_SCALE))
    draws = np.stack([z.numpy() @ w for w in weights.astype(np.float32)])
    # the variance predict_mean_var reports: over draws (ddof=0), averaged over outputs
    variance = draws.var(axis=0).mean(axis=1)
    assert variance[2] == 0  # the draws agree at the origin: the floor keeps the log finite
    fitted = stats.multivariate_normal(PRIOR_MEAN, PRIOR_SCALE @ PRIOR_SCALE.T)
    log_density = fitted.logpdf(z.numpy()) - fitted.logpdf(PRIOR_MEAN)  # 0 at the mode
    for weight in (1.0, 0.25, 0.0):
        objective = variance_objective(source, torch.nn.Identity(), z, prior, weight)
        np.testing.assert_allclose(objective.numpy(),
                                   np.log(variance + VARIANCE_FLOOR) + weight * log_density,
                                   rtol=1e-5, atol=1e-5)
    # the default weight is 1: the objective is log(variance * prior density)
    np.testing.assert_allclose(variance_objective(source, torch.nn.Identity(), z, prior).numpy(),
                               np.log(variance + VARIANCE_FLOOR) + log_density, rtol=1e-5,
                               atol=1e-5)


def _uphill(z, mean, cov):
    """Unit directions of steepest ascent of the Gaussian log density ``N(mean, cov)``."""
    gradient = np.linalg.solve(cov, (mean - z).T).T
    norms = np.linalg.norm(gradient, axis=1, keepdims=True)
    return np.where(norms > 0, gradient / np.where(norms > 0, norms, 1), 0)


START = np.array([[0.0, 0.0], [3.0, 1.0], [-1.0, 2.5]], dtype=np.float32)
PATH = np.array([0.5, 1.0, 0.2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_where_the_draws_agree_the_ascent_climbs_the_generators_prior(dtype):
    flat = _LinearDraws(np.ones((3, 2, 1)))  # no variance anywhere: only the prior pulls
    expected = START + PATH[:, None] * _uphill(START, PRIOR_MEAN, PRIOR_SCALE @ PRIOR_SCALE.T)
    # a generator of one's own may store its prior in float64 or, e.g. np.diag([2, 1]),
    # as integers; the codes may come in float64
    generator = _generator(PRIOR_MEAN.astype(dtype), PRIOR_SCALE.astype(dtype))
    start = START if dtype is np.float32 else START.astype(np.float64)
    climbed = ascend_variance(flat, generator, start, PATH, n_steps=1, prior_weight=1.0)
    assert climbed.dtype == np.float32
    np.testing.assert_allclose(climbed, expected, atol=1e-5)


# no prior attributes at all, or a mean without its Cholesky factor
@pytest.mark.parametrize("mean, scale", [(None, None), (PRIOR_MEAN, None)])
def test_without_a_fitted_prior_the_ascent_climbs_the_standard_normal(mean, scale):
    flat = _LinearDraws(np.ones((3, 2, 1)))
    expected = START + PATH[:, None] * _uphill(START, np.zeros(2), np.eye(2))
    climbed = ascend_variance(flat, _generator(mean, scale), START, PATH, n_steps=1,
                              prior_weight=1.0)
    np.testing.assert_allclose(climbed, expected, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_ascent_runs_on_the_decoders_device():
    source = _LinearDraws(np.random.RandomState(0).normal(size=(4, 2, 3)))
    torch.manual_seed(0)
    decoder = torch.nn.Linear(2, 2)
    climbed = {}
    for device in ("cpu", "cuda"):
        generator = _generator()
        generator.decoder_ = copy.deepcopy(decoder).to(device)
        climbed[device] = ascend_variance(source, generator, START, PATH, n_steps=3,
                                          prior_weight=0.5)
    assert climbed["cuda"].dtype == np.float32
    np.testing.assert_allclose(climbed["cuda"], climbed["cpu"], atol=1e-4)
