"""The uncertainty sources of a skorch net: DeepEnsemble and MCDropout."""
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from hardsample.uncertainty import DeepEnsemble, MCDropout, dropout_modules

from .conftest import make_classifier_net, make_regressor_net


@pytest.fixture(scope="module")
def regression():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (40, 2)).astype(np.float32)
    y = np.stack([np.sin(3 * X[:, 0]), X[:, 1] ** 2, X.sum(axis=1)], axis=1).astype(np.float32)
    torch.manual_seed(0)
    net = make_regressor_net(module__n_outputs=3, train_split=None, max_epochs=3).fit(X, y)
    return X, y, net


@pytest.fixture(scope="module")
def classification(digits):
    X, y = digits[0][:120], digits[1][:120]
    torch.manual_seed(0)
    net = make_classifier_net(module__n_classes=10, module__dropout=0.5, train_split=None,
                              max_epochs=3).fit(X, y)
    return X, y, net


def test_ensemble_members_differ_and_the_seed_reproduces_them(regression):
    X, y, net = regression
    a = DeepEnsemble(n_members=3).fit(net, X, y, np.random.RandomState(1))
    b = DeepEnsemble(n_members=3).fit(net, X, y, np.random.RandomState(1))
    c = DeepEnsemble(n_members=3).fit(net, X, y, np.random.RandomState(2))
    draws_a, draws_b, draws_c = (e.predict_samples(X) for e in (a, b, c))
    assert draws_a.shape == (3, 40, 3)
    assert a.members_[0] is net and a.members_[1] is not net
    for i in range(3):
        for j in range(i):
            assert not np.allclose(draws_a[i], draws_a[j])  # seeds differ, so do members
    np.testing.assert_array_equal(draws_a, draws_b)
    assert not np.allclose(draws_a[1:], draws_c[1:])
    assert a.fit_seconds_ > 0


def test_ensemble_mean_and_variance_average_over_output_entries(regression):
    X, y, net = regression
    ensemble = DeepEnsemble(n_members=4, batch_size=7).fit(net, X, y, 0)
    draws = ensemble.predict_samples(X)
    mean, var = ensemble.predict_mean_var(X)
    assert mean.shape == (40, 3) and var.shape == (40,)
    np.testing.assert_allclose(mean, draws.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(var, draws.var(axis=0).mean(axis=1), rtol=1e-6)
    rows = np.array([5, 0, 17])
    np.testing.assert_allclose(ensemble.predict_mean_var(X, rows=rows)[1], var[rows], rtol=1e-6)


def test_ensemble_without_reusing_the_net_trains_every_member(regression):
    X, y, net = regression
    ensemble = DeepEnsemble(n_members=2, reuse_net=False).fit(clone(net), X, y, 0)
    assert len(ensemble.members_) == 2 and all(m.initialized_ for m in ensemble.members_)
    with pytest.raises(ValueError, match=r"reuse_net=True\) uses the given net .* must be trained"):
        DeepEnsemble(n_members=2).fit(clone(net), X, y, 0)


def test_ensemble_trained_in_parallel_equals_in_process(regression):
    X, y, net = regression
    serial = DeepEnsemble(n_members=3).fit(net, X, y, 4).predict_samples(X)
    parallel = DeepEnsemble(n_members=3, n_jobs=2).fit(net, X, y, 4).predict_samples(X)
    np.testing.assert_allclose(serial, parallel, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("params, message", [
    ({"n_members": 1}, "n_members"), ({"n_members": True}, "n_members"),
    ({"batch_size": 0}, "batch_size"), ({"reuse_net": "yes"}, "reuse_net"),
])
def test_ensemble_rejects_bad_parameters(regression, params, message):
    X, y, net = regression
    with pytest.raises(InvalidParameterError, match=message):
        DeepEnsemble(**params).fit(net, X, y, 0)


def test_probability_draws_of_a_classifier(classification):
    X, y, net = classification
    for source in (DeepEnsemble(n_members=2), MCDropout(n_samples=6)):
        draws = source.fit(net, X, y, 0).predict_proba_samples(X, rows=np.arange(10))
        assert draws.shape == (source.n_draws_, 10, 10)
        np.testing.assert_allclose(draws.sum(axis=2), 1.0, rtol=1e-5)
        with pytest.raises(TypeError, match="for regression nets"):
            source.predict_mean_var(X)


def test_regression_sources_refuse_probability_draws(regression):
    X, y, net = regression
    with pytest.raises(TypeError, match="needs a classifier net"):
        DeepEnsemble(n_members=2).fit(net, X, y, 0).predict_proba_samples(X)


def test_mc_dropout_draws_vary_are_seeded_and_leave_the_net_in_eval(classification):
    X, y, net = classification
    net.module_.eval()
    a = MCDropout(n_samples=5, batch_size=16).fit(net, X, y, np.random.RandomState(0))
    first = a.predict_proba_samples(X)
    np.testing.assert_array_equal(first, a.predict_proba_samples(X))  # same call, same draws
    b = MCDropout(n_samples=5, batch_size=16).fit(net, X, y, np.random.RandomState(0))
    np.testing.assert_array_equal(first, b.predict_proba_samples(X))
    c = MCDropout(n_samples=5, batch_size=16).fit(net, X, y, np.random.RandomState(1))
    assert not np.allclose(first, c.predict_proba_samples(X))
    assert first.std(axis=0).max() > 1e-3  # the masks differ between passes
    assert not any(m.training for m in net.module_.modules())
    # after the draws, the net predicts deterministically again
    np.testing.assert_array_equal(net.predict_proba(X), net.predict_proba(X))
    assert not np.allclose(first[0], net.predict_proba(X))


def test_mc_dropout_needs_dropout_layers(regression):
    X, y, net = regression
    assert dropout_modules(net.module_) == []
    with pytest.raises(ValueError, match="MCDropout needs a net with dropout layers"):
        MCDropout().check_net(make_regressor_net())  # unfitted: an initialized clone is checked
    with pytest.raises(ValueError, match="MCDropout needs a net with dropout layers"):
        MCDropout().fit(net, X, y, 0)
    MCDropout().check_net(make_regressor_net(module__dropout=0.1))


@pytest.mark.parametrize("n_samples", [1, 0, 2.5])
def test_mc_dropout_rejects_fewer_than_two_draws(n_samples):
    with pytest.raises(InvalidParameterError, match="n_samples"):
        MCDropout(n_samples=n_samples).check_net(make_regressor_net(module__dropout=0.1))


def test_unfitted_sources_say_so(regression):
    X = regression[0]
    for source in (DeepEnsemble(), MCDropout()):
        with pytest.raises(ValueError, match="is not fitted"):
            source.predict_samples(X)
