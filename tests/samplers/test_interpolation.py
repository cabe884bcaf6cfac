"""InterpolationSampler (SI) and PriorSampler: synthetic samples for a labeling tool.

Also the paper's IVUS pipeline pieces: the 3-dimensional mask VAE and StressMapNet.
"""

import re

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from sklearn.base import BaseEstimator
from skorch import NeuralNetRegressor

from hardsample import LatentHardMiningRegressor
from hardsample.generators import PCAGenerator, VAETransformer
from hardsample.nets import StressMapNet
from hardsample.oracles import LabelingToolOracle
from hardsample.samplers import (SAMPLERS, InterpolationSampler, MiningState, PriorSampler,
                                 ScreenedPriorSampler)
from hardsample.uncertainty import MCDropout

from ..conftest import make_classifier_net, make_regressor_net


class RecordingTool:
    """A cheap labeling tool that remembers every batch it was asked to label."""

    def __init__(self):
        self.batches = []

    def __call__(self, X):
        X = np.asarray(X)
        self.batches.append(X.copy())
        return np.sin(3 * X.reshape(len(X), -1)).sum(axis=1)


@pytest.fixture(scope="module")
def pool():
    return np.random.RandomState(0).rand(80, 6).astype(np.float32)


def fit_si(pool, sampler="interpolation", tool=None, seed=0, **params):
    params = {"initial_size": 10, "round_size": 5, "n_rounds": 3, **params}
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=2), PCAGenerator(2),
                                    sampler=sampler, random_state=seed, **params)
    return reg.fit(pool, oracle=tool if tool is not None else RecordingTool())


def test_registered():
    assert SAMPLERS["interpolation"] is InterpolationSampler
    assert SAMPLERS["prior"] is PriorSampler
    assert InterpolationSampler.synthesizes and InterpolationSampler.uses_latent_space
    assert PriorSampler.synthesizes and PriorSampler.uses_latent_space


def test_si_end_to_end(pool):
    tool = RecordingTool()
    reg = fit_si(pool, tool=tool)
    assert reg.X_synthetic_.shape == (20, 6) and reg.X_synthetic_.dtype == np.float32
    assert reg.y_synthetic_.shape == (20,)
    assert len(reg.labeled_indices_) == 0  # no pool sample is ever labeled
    assert [h["n_labeled"] for h in reg.history_] == [10, 15, 20]
    assert reg.n_oracle_calls_ == 20 and reg.failed_labels_ == []
    # the decoded samples are exactly what the tool was asked to label
    np.testing.assert_array_equal(np.concatenate(tool.batches), reg.X_synthetic_)
    np.testing.assert_allclose(reg.y_synthetic_, tool(reg.X_synthetic_), rtol=1e-6)
    # and they are decodings of the stored codes
    np.testing.assert_allclose(reg.generator_.inverse_transform(reg._run.ledger.z_synthetic),
                               reg.X_synthetic_, atol=1e-5)
    assert reg.predict(pool[:3]).shape == (3,)


def test_si_reproducible_with_a_seed(pool):
    first, second = fit_si(pool, seed=3), fit_si(pool, seed=3)
    np.testing.assert_array_equal(first.X_synthetic_, second.X_synthetic_)
    np.testing.assert_array_equal(first.y_synthetic_, second.y_synthetic_)
    other = fit_si(pool, seed=4)
    assert not np.array_equal(first.X_synthetic_, other.X_synthetic_)


def test_si_with_a_journal_rerun_makes_no_tool_calls(pool, tmp_path):
    path = tmp_path / "si.sqlite"
    tool = RecordingTool()
    first = fit_si(pool, tool=LabelingToolOracle(tool, journal=path, journal_key="sin"))
    n_batches = len(tool.batches)
    oracle = LabelingToolOracle(tool, journal=path, journal_key="sin")
    second = fit_si(pool, tool=oracle)
    assert len(tool.batches) == n_batches and oracle.n_calls_ == 0 and oracle.n_reused_ == 20
    np.testing.assert_array_equal(first.X_synthetic_, second.X_synthetic_)


def test_random_and_prior_baselines(pool):
    tool = RecordingTool()
    real = fit_si(pool, sampler="random", tool=tool)  # the paper's baseline: real samples
    assert len(real.labeled_indices_) == 20 and real.X_synthetic_.shape == (0, 6)
    np.testing.assert_array_equal(np.concatenate(tool.batches), pool[real.labeled_indices_])

    prior = fit_si(pool, sampler="prior")
    si = fit_si(pool)
    assert prior.X_synthetic_.shape == (20, 6)
    # same seed: same round 1 as SI, different later rounds
    np.testing.assert_array_equal(prior.X_synthetic_[:10], si.X_synthetic_[:10])
    assert not np.array_equal(prior.X_synthetic_[10:], si.X_synthetic_[10:])


def test_dataset_oracle_refused(pool):
    y = pool.sum(axis=1)
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=1), PCAGenerator(2),
                                    sampler="interpolation", initial_size=5, n_rounds=1)
    with pytest.raises(TypeError, match="labeling tool"):
        reg.fit(pool, y)


def test_generator_required(pool):
    reg = LatentHardMiningRegressor(make_regressor_net(), sampler="interpolation",
                                    initial_size=5, n_rounds=1)
    with pytest.raises(ValueError, match="pass a generator"):
        reg.fit(pool, oracle=RecordingTool())


def _state(pool, n_labeled=6, seed=0):
    """A mining state after a first round of SI on ``pool``."""
    generator = PCAGenerator(2).fit(pool)
    rng = np.random.RandomState(seed)
    z = rng.standard_normal((n_labeled, 2)).astype(np.float32)
    X = generator.inverse_transform(z).astype(np.float32)
    y = RecordingTool()(X).astype(np.float32).reshape(-1, 1)
    net = make_regressor_net(max_epochs=2, train_split=None).fit(X, y)
    return MiningState(
        X_pool=pool, latent_codes=generator.transform(pool), excluded=np.zeros(len(pool), bool),
        X_labeled=X, y_labeled=y, z_labeled=z, net=net, generator=generator,
    )


def test_initial_proposal_draws_from_the_prior(pool):
    state = _state(pool)
    proposal = InterpolationSampler().initial_proposal(state, 4, np.random.RandomState(7))
    codes = np.random.RandomState(7).standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_array_equal(proposal.latent_codes, codes)
    np.testing.assert_allclose(proposal.X, state.generator.inverse_transform(codes), atol=1e-6)
    assert proposal.indices is None and proposal.anchors is None


def test_propose_steps_the_anchors_codes(pool):
    state = _state(pool)
    proposal = InterpolationSampler(step_size=0.5).propose(state, 4, np.random.RandomState(0))
    assert proposal.X.shape == (4, 6) and proposal.latent_codes.shape == (4, 2)
    assert set(proposal.anchors) <= set(range(6))
    steps = np.linalg.norm(proposal.latent_codes - state.z_labeled[proposal.anchors], axis=1)
    np.testing.assert_allclose(steps, 0.5, rtol=1e-4)
    np.testing.assert_allclose(proposal.X, state.generator.inverse_transform(proposal.latent_codes),
                               atol=1e-5)


def test_fewer_anchors_walk_along_the_gradient(pool):
    state = _state(pool)
    proposal = InterpolationSampler(step_size=0.5, n_anchors=2).propose(
        state, 5, np.random.RandomState(0))
    assert len(np.unique(proposal.latent_codes, axis=0)) == 5
    steps = np.linalg.norm(proposal.latent_codes - state.z_labeled[proposal.anchors], axis=1)
    np.testing.assert_allclose(steps, [0.5, 1.0, 1.5, 0.5, 1.0], rtol=1e-4)


@pytest.mark.parametrize("params, match", [
    ({"step_size": 0}, "step_size"),
    ({"n_anchors": 0}, "n_anchors"),
])
def test_bad_params(pool, params, match):
    with pytest.raises(ValueError, match=match):
        InterpolationSampler(**params).propose(_state(pool), 3, np.random.RandomState(0))


def test_no_generator_in_state(pool):
    state = MiningState(X_pool=pool, latent_codes=None, excluded=np.zeros(len(pool), bool),
                        X_labeled=pool[:0], y_labeled=np.zeros(0), z_labeled=None, net=None)
    with pytest.raises(ValueError, match="generator"):
        PriorSampler().initial_proposal(state, 3, np.random.RandomState(0))


class SquareDecoder:
    """A fake generator: decodes a code ``z`` into ``(z, z**2)``, in ``dtype``, dropping
    the first ``drop`` rows (a broken generator when ``drop > 0``)."""

    def __init__(self, dtype=np.float32, drop=0):
        self.dtype, self.drop = dtype, drop

    def inverse_transform(self, Z):
        Z = np.asarray(Z, dtype=np.float64)
        return np.column_stack([Z, Z ** 2]).astype(self.dtype)[self.drop:]


class ShiftedPriorDecoder(SquareDecoder):
    """A fake generator with its own prior: uniform codes in [100, 101)^2."""

    def sample_codes(self, n, random_state):
        return 100.0 + random_state.rand(n, 2)


class FirstFeatureVariance(BaseEstimator):
    """A fake uncertainty source: the draws on ``x`` are ``±sqrt(x[:, 0])``, so the
    predictive variance of a sample is its first feature."""

    _parameter_constraints: dict = {}

    def fit(self, net, X=None, y=None, random_state=None):
        return self

    def draws_tensor(self, x, position=0):
        s = torch.sqrt(torch.clamp(x[:, 0], min=0))
        return torch.stack([s, -s])

    def predict_mean_var(self, X):
        draws = self.draws_tensor(torch.as_tensor(np.asarray(X))).numpy().astype(np.float64)
        return draws.mean(axis=0), draws.var(axis=0)


def tiny_state(generator, z_labeled=None):
    """Three labeled synthetic samples with 2-d codes; no pool sample may be proposed."""
    z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32) if z_labeled is None \
        else np.asarray(z_labeled, np.float32)
    X = SquareDecoder().inverse_transform(z)
    return MiningState(X_pool=np.zeros((4, 4), np.float32), latent_codes=np.zeros((4, 2)),
                       excluded=np.zeros(4, bool), X_labeled=X, y_labeled=np.zeros(len(z)),
                       z_labeled=z, net=None, generator=generator)


def test_decoded_samples_are_float32_and_checked():
    state = tiny_state(SquareDecoder(dtype=np.float64))
    proposal = PriorSampler().initial_proposal(state, 3, np.random.RandomState(0))
    assert proposal.X.dtype == np.float32
    np.testing.assert_allclose(proposal.X, SquareDecoder().inverse_transform(proposal.latent_codes))
    broken = tiny_state(SquareDecoder(drop=1))
    with pytest.raises(ValueError, match="decoded 3 codes into 2 samples"):
        PriorSampler().initial_proposal(broken, 3, np.random.RandomState(0))


def test_prior_draws_use_the_generators_own_prior():
    state = tiny_state(ShiftedPriorDecoder())
    proposal = InterpolationSampler().initial_proposal(state, 4, np.random.RandomState(3))
    np.testing.assert_allclose(proposal.latent_codes,
                               100.0 + np.random.RandomState(3).rand(4, 2), rtol=1e-6)


def test_screened_prior_round_one_is_the_prior_round_one():
    state = tiny_state(SquareDecoder())
    a = ScreenedPriorSampler().initial_proposal(state, 3, np.random.RandomState(5))
    b = PriorSampler().initial_proposal(state, 3, np.random.RandomState(5))
    np.testing.assert_array_equal(a.latent_codes, b.latent_codes)
    np.testing.assert_array_equal(a.X, b.X)


@pytest.mark.parametrize("sampler", [InterpolationSampler(), ScreenedPriorSampler()])
def test_initial_proposal_without_generator_names_the_sampler(sampler):
    state = tiny_state(None)
    with pytest.raises(ValueError, match=f"^{type(sampler).__name__} synthesizes samples"):
        sampler.initial_proposal(state, 2, np.random.RandomState(0))


@pytest.mark.parametrize("objective", ["loss", "variance"])
def test_labeled_samples_without_codes_name_the_sampler(objective):
    state = tiny_state(SquareDecoder(), z_labeled=np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="^InterpolationSampler steps from labeled samples"):
        InterpolationSampler(objective=objective).propose(state, 2, np.random.RandomState(0))


def test_variance_objective_refuses_other_step_directions():
    with pytest.raises(ValueError, match="^step_direction applies to objective='loss'"):
        InterpolationSampler(objective="variance", step_direction="random").propose(
            tiny_state(SquareDecoder()), 2, np.random.RandomState(0))


def test_timings_of_each_stage():
    state = tiny_state(SquareDecoder())
    si = InterpolationSampler(step_direction="random").propose(state, 2, np.random.RandomState(0))
    assert set(si.timings) == {"gradient", "decoding"}
    screened = ScreenedPriorSampler(uncertainty=FirstFeatureVariance(), n_candidates=5).propose(
        state, 2, np.random.RandomState(0))
    assert set(screened.timings) == {"decoding", "uncertainty_training", "judging"}
    # the two prior draws (of 10) with the largest first code: the largest variance
    draws = np.random.RandomState(0).standard_normal((10, 2)).astype(np.float32)
    best = draws[np.argsort(draws[:, 0])[-2:]]
    np.testing.assert_array_equal(np.sort(screened.latent_codes[:, 0]), np.sort(best[:, 0]))


def test_screened_prior_checks_its_uncertainty_source_against_the_net():
    with pytest.raises(ValueError, match="dropout layers"):
        ScreenedPriorSampler(uncertainty=MCDropout()).check_compatible(
            task="regression", net=make_regressor_net(), generator=PCAGenerator(2))



@pytest.mark.parametrize("sampler", [InterpolationSampler(objective="variance"),
                                     ScreenedPriorSampler()])
def test_variance_samplers_refuse_a_classification_told_by_the_task_or_the_net(sampler):
    # either one is enough: the task alone (no net yet), or the net when the task is unknown
    with pytest.raises(TypeError, match="works on regression targets only"):
        sampler.check_compatible(task="classification", net=None, generator=PCAGenerator(2))
    with pytest.raises(TypeError, match="works on regression targets only"):
        sampler.check_compatible(task=None, net=make_classifier_net(), generator=PCAGenerator(2))
    sampler.check_compatible(task=None, net=make_regressor_net(), generator=PCAGenerator(2))


class ClassifierDraws(FirstFeatureVariance):
    """A fake uncertainty source that finds, once fitted, that the net is a classifier."""

    def fit(self, net, X=None, y=None, random_state=None):
        self.is_classifier_ = True
        return self


@pytest.mark.parametrize("sampler", [
    InterpolationSampler(objective="variance", uncertainty=ClassifierDraws()),
    ScreenedPriorSampler(uncertainty=ClassifierDraws())])
def test_variance_of_a_classifier_net_is_refused_naming_the_sampler(sampler):
    message = (f"{type(sampler).__name__} uses the predictive variance of a regression net; "
               "this net is a classifier.")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        sampler.propose(tiny_state(SquareDecoder()), 2, np.random.RandomState(0))

# ------------------------------------------------- the paper's IVUS pipeline pieces
def random_masks(n, seed=0):
    """Random annuli on 64x64 grids: a cheap stand-in for vessel-wall masks."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:64, :64]
    masks = np.empty((n, 64, 64), np.float32)
    for i in range(n):
        cy, cx = rng.uniform(28, 36, 2)
        r = np.hypot(yy - cy, xx - cx)
        inner = rng.uniform(8, 14)
        masks[i] = (r > inner) & (r < inner + rng.uniform(6, 12))
    return masks


def blurred_stress(masks):
    """A fake stress solver: the blurred mask, in [0, 1] like scaled stress."""
    return np.stack([gaussian_filter(m, 2.0) for m in np.asarray(masks)]).astype(np.float32)


def test_paper_mask_vae_configuration():
    masks = random_masks(16)
    vae = VAETransformer(latent_dim=3, hidden_sizes=(400, 400), max_epochs=2,
                         batch_size=8, random_state=0).fit(masks)
    codes = vae.transform(masks)
    assert codes.shape == (16, 3) and np.isfinite(codes).all()
    decoded = vae.inverse_transform(codes)
    assert decoded.shape == (16, 64, 64) and decoded.min() >= 0 and decoded.max() <= 1


def test_stress_map_net_shapes():
    torch.manual_seed(0)
    net = StressMapNet().eval()
    for x in (torch.rand(2, 64, 64), torch.rand(2, 1, 64, 64), torch.rand(2, 64 * 64)):
        out = net(x)
        assert out.shape == (2, 64, 64)
        assert 0 <= out.min() and out.max() <= 1
    assert StressMapNet(out_channels=2)(torch.rand(2, 64, 64)).shape == (2, 2, 64, 64)
    assert StressMapNet()(torch.rand(2, 48, 57)).shape == (2, 48, 57)
    with pytest.raises(ValueError, match="at least 47x47"):
        net(torch.rand(2, 32, 32))
    with pytest.raises(ValueError, match="square"):
        net(torch.rand(2, 10))
    with pytest.raises(ValueError, match="widths"):
        StressMapNet(widths=(8, 16))


def test_stress_map_net_fits_with_skorch():
    rng = np.random.RandomState(0)
    X = rng.rand(8, 64, 64).astype(np.float32)
    y = rng.rand(8, 64, 64).astype(np.float32)
    torch.manual_seed(0)
    net = NeuralNetRegressor(StressMapNet, optimizer=torch.optim.Adam, lr=1e-3,
                             max_epochs=2, batch_size=4, train_split=None, verbose=0)
    net.fit(X, y)
    assert len(net.history) == 2
    assert net.history[-1, "train_loss"] < net.history[0, "train_loss"]  # it learns
    assert net.predict(X).shape == (8, 64, 64)


def test_si_with_mask_vae_and_stress_net():
    masks = random_masks(24)
    net = NeuralNetRegressor(StressMapNet, optimizer=torch.optim.Adam, lr=1e-3,
                             max_epochs=1, batch_size=8, verbose=0)
    vae = VAETransformer(latent_dim=3, hidden_sizes=(64, 64), max_epochs=1, batch_size=8)
    reg = LatentHardMiningRegressor(net, vae, sampler="interpolation", initial_size=6,
                                    round_size=4, n_rounds=2, step_size=0.5, random_state=0)
    reg.fit(masks, oracle=blurred_stress)
    assert reg.X_synthetic_.shape == (10, 64, 64)
    assert reg.y_synthetic_.shape == (10, 64, 64)
    np.testing.assert_allclose(reg.y_synthetic_, blurred_stress(reg.X_synthetic_), atol=1e-6)
    assert reg.predict(masks[:2]).shape == (2, 64, 64)


def test_si_trains_on_what_the_solver_labeled():
    """SI with the vessel solver: stored synthetic inputs are the binary masks the solver
    solved on, and labeling them again gives back their stored targets."""
    from hardsample import LabelingToolOracle
    from hardsample.datasets import VesselStressSolver, make_vessel_masks
    from hardsample.generators import PCAGenerator, SDFGenerator
    from hardsample.nets import StressUNet

    masks = make_vessel_masks(60, size=32, random_state=0)[0][:, None]
    solver = VesselStressSolver()
    net = NeuralNetRegressor(StressUNet, module__widths=(4, 8), optimizer=torch.optim.Adam,
                             lr=1e-3, max_epochs=2, batch_size=4, verbose=0)
    reg = LatentHardMiningRegressor(
        net, SDFGenerator(PCAGenerator(3)), sampler="interpolation", initial_size=4,
        round_size=3, n_rounds=2, random_state=0,
    ).fit(masks, oracle=LabelingToolOracle(solver))
    assert len(reg.X_synthetic_) == 7
    assert np.isin(reg.X_synthetic_, (0.0, 1.0)).all()
    again = solver(reg.X_synthetic_[:, 0])
    np.testing.assert_allclose(again, reg.y_synthetic_.reshape(again.shape), rtol=1e-5)
