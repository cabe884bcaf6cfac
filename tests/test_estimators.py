"""LatentHardMiningClassifier / LatentHardMiningRegressor: rounds, API, bad input."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from hardsample import (
    DatasetOracle,
    LabelingError,
    LatentHardMiningClassifier,
    LatentHardMiningRegressor,
)
from hardsample.generators import PCAGenerator
from hardsample.samplers import (
    CoreSetSampler,
    MarginSampler,
    NearestNeighborSampler,
    RandomSampler,
    RepresentativeSampler,
)

from .conftest import importorskip_unless_ci, make_classifier_net, make_regressor_net


def _clf(**kwargs):
    params = dict(sampler="nearest", initial_size=40, round_size=20, n_rounds=3, random_state=0)
    params.update(kwargs)
    return LatentHardMiningClassifier(make_classifier_net(), PCAGenerator(n_components=3), **params)


def _regression_data(n=300, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, 6).astype(np.float32)
    return X, (X @ np.arange(6, dtype=np.float32)).astype(np.float32)


# --------------------------------------------------------------------- rounds
@pytest.mark.parametrize("sampler", ["nearest", "random"])
def test_fit_labels_the_budget(digits, sampler):
    X, y = digits
    clf = _clf(sampler=sampler).fit(X, y)
    assert len(clf.labeled_indices_) == 40 + 2 * 20
    assert len(np.unique(clf.labeled_indices_)) == len(clf.labeled_indices_)
    assert clf.n_oracle_calls_ == 80
    assert [h["round"] for h in clf.history_] == [1, 2, 3]
    assert [h["n_labeled"] for h in clf.history_] == [40, 60, 80]
    assert set(clf.history_[0]) >= {"round", "n_labeled", "n_oracle_calls", "train_seconds",
                                    "mining_seconds"}
    np.testing.assert_array_equal(clf.y_labeled_, y[clf.labeled_indices_])
    assert clf.n_features_in_ == 64
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.score(X, y) > 0.5


@pytest.mark.parametrize("sampler, stages", [
    ("nearest", {"gradient", "neighbors"}),
    ("latent-margin", {"anchors", "gradient", "neighbors", "judging"}),
    ("entropy", {"judging"}),
    ("random", set()),
])
def test_history_splits_the_mining_time(digits, sampler, stages):
    X, y = digits
    clf = _clf(sampler=sampler).fit(X, y)
    assert clf.history_[0]["mining_split"] == {}  # round 1 is a random draw
    for entry in clf.history_[1:]:
        split = entry["mining_split"]
        assert set(split) == stages
        assert all(seconds >= 0 for seconds in split.values())
        assert sum(split.values()) <= entry["mining_seconds"]
    latent = sampler in ("nearest", "latent-margin")
    assert set(clf.setup_seconds_) == ({"generator_fit", "encoding", "index"} if latent else set())


def test_only_queried_labels_are_read(digits):
    X, y = digits

    class CountingLabels(DatasetOracle):
        def label(self, X, indices=None):
            self.seen = getattr(self, "seen", []) + list(indices)
            return super().label(X, indices)

    oracle = CountingLabels(y)
    clf = _clf(sampler="nearest").fit(X, oracle=oracle, classes=np.arange(10))
    assert sorted(oracle.seen) == sorted(clf.labeled_indices_.tolist())
    assert oracle.n_queries_ == clf.n_oracle_calls_ == 80


def test_fit_with_a_labeling_tool(digits):
    X, y = digits
    lookup = {x.tobytes(): label for x, label in zip(X, y)}
    calls = []

    def tool(X_batch):
        calls.append(len(X_batch))
        return np.array([lookup[x.tobytes()] for x in X_batch])

    clf = _clf().fit(X, oracle=tool, classes=np.arange(10))
    assert sum(calls) == 80 and clf.n_oracle_calls_ == 80
    np.testing.assert_array_equal(clf.y_labeled_, y[clf.labeled_indices_])


def test_same_round_one_for_every_sampler(digits):
    X, y = digits
    first = [
        _clf(sampler=s, n_rounds=1).fit(X, y).labeled_indices_
        for s in ("nearest", "random", RandomSampler())
    ]
    for other in first[1:]:
        np.testing.assert_array_equal(first[0], other)


def test_same_seed_same_selections_and_predictions(digits):
    X, y = digits
    a, b = _clf().fit(X, y), _clf().fit(X, y)
    np.testing.assert_array_equal(a.labeled_indices_, b.labeled_indices_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = _clf(random_state=1).fit(X, y)
    assert not np.array_equal(a.labeled_indices_, c.labeled_indices_)


def test_fit_does_not_touch_global_torch_rng(digits):
    X, y = digits
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _clf(n_rounds=2).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_partial_fit_runs_one_round_at_a_time(digits):
    X, y = digits
    clf = _clf()
    clf.partial_fit(X, y)
    assert len(clf.labeled_indices_) == 40 and len(clf.history_) == 1
    clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="hidden labels again"):
        clf.partial_fit(X)  # the hidden labels are not kept between calls
    assert len(clf.labeled_indices_) == 60
    clf.partial_fit(X, y)
    assert len(clf.labeled_indices_) == 80
    np.testing.assert_array_equal(clf.labeled_indices_, _clf().fit(X, y).labeled_indices_)


def test_fitted_estimator_holds_no_hidden_labels(digits):
    X, y = digits
    X_reg, y_reg = _regression_data(n=600)
    width = 8  # runs of consecutive unqueried labels, long enough not to occur by chance
    for estimator, X_fit, target in (
        (_clf(n_rounds=2), X, y),
        (LatentHardMiningRegressor(make_regressor_net(), PCAGenerator(3), sampler="nearest",
                                   initial_size=40, round_size=20, n_rounds=2, random_state=0),
         X_reg, y_reg),
    ):
        blob = pickle.dumps(estimator.fit(X_fit, target))
        queried = set(estimator.labeled_indices_.tolist())
        # (runs like 0, 1, ..., 7 are left out: classes_ holds them anyway)
        starts = [i for i in range(len(target) - width)
                  if queried.isdisjoint(range(i, i + width))
                  and np.any(np.diff(target[i:i + width]) != 1)][:300]
        assert len(starts) > 100
        for dtype in (np.int64, np.float32, np.float64):
            leaked = [i for i in starts if np.asarray(target[i:i + width], dtype).tobytes() in blob]
            assert leaked == [], f"hidden labels of unqueried samples pickled as {dtype}"


def test_user_oracle_is_not_modified(digits):
    X, y = digits
    labels = list(y)
    oracle = DatasetOracle(labels)
    _clf(n_rounds=2).fit(X, oracle=oracle, classes=np.arange(10))
    assert oracle.y is labels and oracle.y == list(y)


def test_classes_from_the_net(digits):
    X, y = digits
    lookup = {x.tobytes(): label for x, label in zip(X, y)}
    clf = LatentHardMiningClassifier(
        make_classifier_net(classes=np.arange(10)), PCAGenerator(3), initial_size=40,
        round_size=20, n_rounds=2, random_state=0,
    ).fit(X, oracle=lambda b: np.array([lookup[x.tobytes()] for x in b]))
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.score(X, y) > 0.5


def test_partial_fit_rejects_a_changed_pool(digits):
    X, y = digits
    clf = _clf().partial_fit(X, y)
    X_changed = X.copy()
    X_changed[0, 0] += 0.5
    with pytest.raises(ValueError, match="pool changed"):
        clf.partial_fit(X_changed, y)
    y_changed = y.copy()
    y_changed[0] = (y[0] + 1) % 10
    with pytest.raises(ValueError, match="pool changed"):
        clf.partial_fit(X, y_changed)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :10], y)
    assert len(clf.labeled_indices_) == 40  # nothing lost


@pytest.mark.parametrize("retrain", ["continue", "scratch"])
def test_retrain_modes(digits, retrain):
    X, y = digits
    clf = _clf(retrain=retrain, n_rounds=2).fit(X, y)
    # skorch's history counts epochs: continuing accumulates them, scratch restarts.
    n_epochs = len(clf.net_.history)
    assert n_epochs == (10 if retrain == "continue" else 5)


def test_net_is_cloned_with_defaults_for_tiny_label_sets(digits):
    X, y = digits
    net = make_classifier_net()
    clf = LatentHardMiningClassifier(net, PCAGenerator(3), initial_size=30, n_rounds=1,
                                     random_state=0).fit(X, y)
    assert clf.net_ is not net and not hasattr(net, "module_")
    assert clf.net_.train_split is None
    assert clf.net_.iterator_train__shuffle is True
    assert clf.net_.module__n_classes == 10
    # An explicit choice of the user is kept.
    from skorch.dataset import ValidSplit

    custom = make_classifier_net(train_split=ValidSplit(3), iterator_train__shuffle=False)
    clf = LatentHardMiningClassifier(custom, PCAGenerator(3), initial_size=30, n_rounds=1,
                                     random_state=0).fit(X, y)
    assert isinstance(clf.net_.train_split, ValidSplit) and clf.net_.train_split.cv == 3
    assert clf.net_.iterator_train__shuffle is False


def test_unfitted_generator_is_fitted_on_the_pool(digits):
    X, y = digits
    generator = PCAGenerator(3)
    clf = _clf(n_rounds=1).set_params(generator=generator).fit(X, y)
    assert not hasattr(generator, "pca_")
    assert clf.generator_ is not generator and hasattr(clf.generator_, "pca_")
    np.testing.assert_allclose(clf.latent_codes_, clf.generator_.transform(X))


def test_frozen_generator_is_kept(digits):
    X, y = digits
    fitted = PCAGenerator(3).fit(X[:500])
    clf = _clf(n_rounds=2).set_params(generator=FrozenEstimator(fitted))
    clone(clf).fit(X, y)
    cloned = clone(clf)
    assert cloned.generator.estimator is fitted
    cloned.fit(X, y)
    assert cloned.generator_ is fitted
    np.testing.assert_allclose(cloned.latent_codes_, fitted.transform(X))


def test_random_sampler_needs_no_generator(digits):
    X, y = digits
    clf = LatentHardMiningClassifier(make_classifier_net(), sampler="random", initial_size=30,
                                     n_rounds=2, round_size=10, random_state=0).fit(X, y)
    assert clf.generator_ is None and len(clf.labeled_indices_) == 40


def test_image_samples(data_home):
    from hardsample.datasets import load_mnist
    from hardsample.nets import LeNet

    mnist = load_mnist(data_home)
    X = (mnist.X_train[:600] / 255.0).astype(np.float32)[:, None]
    y = mnist.y_train[:600]
    net = make_classifier_net(max_epochs=3).set_params(module=LeNet)
    clf = LatentHardMiningClassifier(net, PCAGenerator(3), sampler="nearest", initial_size=100,
                                     round_size=50, n_rounds=2, random_state=0).fit(X, y)
    assert clf.predict(X[:5]).shape == (5,)
    assert clf.generator_.sample(2, random_state=0).shape == (2, 1, 28, 28)


def test_string_labels(digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    clf = _clf(n_rounds=2).fit(X, names[y])
    assert set(clf.predict(X[:20])) <= set(names)
    assert clf.predict_proba(X[:3]).shape == (3, 10)


# ----------------------------------------------------------- regressor
@pytest.mark.parametrize("sampler", ["nearest", "random"])
def test_regressor(sampler):
    X, y = _regression_data()
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=30), PCAGenerator(3),
                                    sampler=sampler, initial_size=60, round_size=30, n_rounds=3,
                                    random_state=0).fit(X, y)
    assert reg.predict(X[:4]).shape == (4,)
    assert len(reg.labeled_indices_) == 120
    np.testing.assert_allclose(reg.y_labeled_, y[reg.labeled_indices_])
    assert reg.score(X, y) > 0.5


def test_defaults_are_the_measured_recommendations(digits):
    """The classifier's default sampler is subsampled margin and needs no generator; the
    regressor's is random (nothing measured beats it on regression yet)."""
    X, y = digits
    clf = LatentHardMiningClassifier(make_classifier_net(), initial_size=40, round_size=20,
                                     n_rounds=2, random_state=0)
    assert clf.get_params()["sampler"] == "subsampled-margin"
    assert clone(clf).sampler == "subsampled-margin"
    clf.fit(X, y)
    assert clf.generator_ is None and clf.latent_codes_ is None
    assert type(clf.sampler_).__name__ == "SubsampledMarginSampler"
    assert len(np.unique(clf.labeled_indices_)) == 60
    X_reg, y_reg = _regression_data()
    reg = LatentHardMiningRegressor(make_regressor_net(), initial_size=30, round_size=30,
                                    n_rounds=2, random_state=0)
    assert reg.get_params()["sampler"] == "random"
    reg.fit(X_reg, y_reg)
    assert reg.generator_ is None and isinstance(reg.sampler_, RandomSampler)
    assert len(np.unique(reg.labeled_indices_)) == 60


def test_regressor_with_map_targets():
    rng = np.random.RandomState(0)
    X = rng.rand(200, 4, 4).astype(np.float32)
    y = X[:, ::-1, :] * 2.0  # an image-to-image target
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=20), PCAGenerator(3),
                                    initial_size=40, round_size=20, n_rounds=2,
                                    random_state=0).fit(X, y)
    assert reg.net_.module__n_outputs == 16
    assert reg.predict(X[:3]).shape == (3, 4, 4)
    assert np.isfinite(reg.score(X, y))


# ------------------------------------------------------ scikit-learn tools
def test_pipeline_cross_val_score_and_grid_search(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z * 1.0), _clf(n_rounds=2))
    scores = cross_val_score(pipe, X, y, cv=2)
    assert scores.shape == (2,) and np.all((scores > 0.2) & (scores <= 1))
    grid = GridSearchCV(_clf(n_rounds=2, sampler=NearestNeighborSampler()),
                        {"sampler__step_size": [0.5, 2.0], "net__max_epochs": [2, 4]},
                        cv=2).fit(X, y)
    assert set(grid.best_params_) == {"sampler__step_size", "net__max_epochs"}
    best = grid.best_estimator_
    assert best.net_.max_epochs == grid.best_params_["net__max_epochs"]
    assert best.sampler_.step_size == grid.best_params_["sampler__step_size"]
    scores = grid.cv_results_["mean_test_score"]
    assert np.all(scores > 0.2) and len(np.unique(scores)) > 1


def test_sampler_parameters_change_the_selections(digits):
    X, y = digits
    picks = {
        step: _clf(sampler=NearestNeighborSampler()).set_params(sampler__step_size=step)
        .fit(X, y).labeled_indices_
        for step in (0.05, 3.0)
    }
    np.testing.assert_array_equal(picks[0.05][:40], picks[3.0][:40])  # round 1: random
    assert set(picks[0.05][40:]) != set(picks[3.0][40:])


@pytest.mark.parametrize("sampler, params, match", [
    (NearestNeighborSampler(step_size=-1.0), {}, "step_size"),
    (NearestNeighborSampler(step_direction="sideways"), {}, "step_direction"),
    ("latent-margin", {"step_size": "big"}, "step_size"),
    ("entropy", {"step_size": 0.5}, "no such parameter"),
    ("margin", {"n_anchors": 4}, "no such parameter"),
    (MarginSampler(batch_size=0), {}, "batch_size"),
])
def test_bad_sampler_parameters_fail_before_any_label(digits, sampler, params, match):
    X, y = digits
    oracle = DatasetOracle(y)
    with pytest.raises(ValueError, match=match):
        _clf(sampler=sampler, **params).fit(X, oracle=oracle, classes=np.arange(10))
    assert oracle.n_queries_ == 0


def test_estimator_shortcuts_reach_the_sampler(digits):
    X, y = digits
    clf = _clf(sampler="nearest", step_size=0.25, n_anchors=5, n_rounds=2).fit(X, y)
    assert (clf.sampler_.step_size, clf.sampler_.n_anchors) == (0.25, 5)
    as_object = _clf(sampler=NearestNeighborSampler(step_size=0.25, n_anchors=5), n_rounds=2)
    np.testing.assert_array_equal(as_object.fit(X, y).labeled_indices_, clf.labeled_indices_)


def test_clone_and_pickle(digits):
    X, y = digits
    clf = _clf(n_rounds=2, sampler=NearestNeighborSampler(step_size=0.5)).fit(X, y)
    copy = clone(clf)
    assert copy.get_params()["sampler__step_size"] == 0.5
    assert copy.sampler is not clf.sampler and not hasattr(copy, "labeled_indices_")
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X[:50]), clf.predict(X[:50]))
    np.testing.assert_array_equal(restored.labeled_indices_, clf.labeled_indices_)


# ------------------------------------------------------------- bad input
def test_nan_and_inf_in_X(digits):
    X, y = digits
    for bad in (np.nan, np.inf):
        X_bad = X.copy()
        X_bad[5, 3] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            _clf().fit(X_bad, y)


def test_X_and_y_lengths_differ(digits):
    X, y = digits
    with pytest.raises(ValueError, match="different lengths"):
        _clf().fit(X, y[:-1])
    with pytest.raises(ValueError, match="different lengths"):
        LatentHardMiningRegressor(make_regressor_net(), PCAGenerator(2)).fit(X, y[:-1] * 1.0)


def test_budget_larger_than_pool(digits):
    X, y = digits
    with pytest.raises(ValueError, match="larger than the pool"):
        _clf(initial_size=2000).fit(X, y)
    with pytest.raises(ValueError, match="larger than the pool"):
        _clf(initial_size=100, round_size=900, n_rounds=3).fit(X, y)


def test_partial_fit_beyond_the_pool(digits):
    X, y = digits
    clf = _clf(initial_size=1700, round_size=200).partial_fit(X, y)
    with pytest.raises(ValueError, match="only 97 pool samples"):
        clf.partial_fit(X, y)
    assert len(clf.labeled_indices_) == 1700


@pytest.mark.parametrize("param, value, error", [
    ("round_size", 0, ValueError),
    ("round_size", -5, ValueError),
    ("initial_size", 0, ValueError),
    ("initial_size", 1.5, ValueError),
    ("initial_size", "ten", TypeError),
    ("n_rounds", 0, ValueError),
    ("retrain", "sometimes", ValueError),
    ("sampler", "psychic", ValueError),
    ("sampler", object(), TypeError),
])
def test_bad_parameters(digits, param, value, error):
    X, y = digits
    with pytest.raises(error, match=param if param != "sampler" else "sampler"):
        _clf(**{param: value}).fit(X, y)


def test_net_must_be_skorch(digits):
    X, y = digits
    with pytest.raises(TypeError, match="skorch NeuralNetClassifier"):
        LatentHardMiningClassifier(torch.nn.Linear(64, 10), PCAGenerator(3)).fit(X, y)
    with pytest.raises(TypeError, match="skorch NeuralNetRegressor"):
        LatentHardMiningRegressor(make_classifier_net(), PCAGenerator(3)).fit(X, y * 1.0)


def test_latent_sampler_needs_a_generator(digits):
    X, y = digits
    with pytest.raises(ValueError, match="generator"):
        LatentHardMiningClassifier(make_classifier_net(), None, sampler="nearest",
                                   initial_size=10).fit(X, y)


def test_generator_with_non_finite_codes(digits):
    X, y = digits

    class Broken(PCAGenerator):
        def transform(self, X):
            Z = super().transform(X)
            Z[3] = np.nan
            return Z

    with pytest.raises(ValueError, match="non-finite|NaN"):
        _clf().set_params(generator=Broken(3)).fit(X, y)


def test_y_or_oracle_required(digits):
    X, y = digits
    with pytest.raises(ValueError, match="requires y"):
        _clf().fit(X)
    with pytest.raises(ValueError, match="not both"):
        _clf().fit(X, y, oracle=lambda b: np.zeros(len(b)))
    with pytest.raises(ValueError, match="classes="):
        _clf().fit(X, oracle=lambda b: np.zeros(len(b)))
    with pytest.raises(TypeError, match="oracle"):
        _clf().fit(X, oracle=42)


def test_partial_fit_keeps_the_last_tool_it_was_given(digits):
    # oracle=A, then oracle=B, then no oracle: round 3 is labeled by B, not A.
    X, y = digits
    lookup = {x.tobytes(): label for x, label in zip(X, y)}
    asked = {"A": 0, "B": 0}

    def make_tool(name):
        def tool(batch):
            asked[name] += len(batch)
            return np.array([lookup[x.tobytes()] for x in batch])
        return tool

    clf = _clf()
    clf.partial_fit(X, oracle=make_tool("A"), classes=np.arange(10))
    clf.partial_fit(X, oracle=make_tool("B"))
    assert asked == {"A": 40, "B": 20}
    clf.partial_fit(X)
    assert asked == {"A": 40, "B": 40}
    np.testing.assert_array_equal(clf.y_labeled_, y[clf.labeled_indices_])


def test_an_oracle_answering_too_few_labels_fails_and_counts_the_batch(digits):
    X, y = digits

    class ShortOracle(DatasetOracle):
        def label(self, X, indices=None):
            result = super().label(X, indices=indices)
            if len(result.labels) == 20:  # round 2: one label short
                result.labels = result.labels[:-1]
            return result

    clf = _clf()
    clf.partial_fit(X, oracle=ShortOracle(y))
    with pytest.raises(LabelingError, match="answered 19 labels for 20 samples"):
        clf.partial_fit(X, oracle=ShortOracle(y))
    assert clf.n_oracle_calls_ == 60 and len(clf.labeled_indices_) == 40


@pytest.mark.parametrize("failure", ["raises", "wrong length", "nan"])
def test_failing_oracle_keeps_paid_labels(digits, failure):
    X, y = digits
    lookup = {x.tobytes(): label for x, label in zip(X, y)}
    calls = {"n": 0}

    def tool(batch):
        calls["n"] += 1
        labels = np.array([lookup[x.tobytes()] for x in batch], dtype=float)
        if calls["n"] == 1:  # round 1 is answered, everything after fails
            return labels
        if failure == "raises":
            raise RuntimeError("solver crashed")
        if failure == "wrong length":
            return labels[:-1] if len(labels) > 1 else labels[:0]
        return labels * np.nan

    clf = _clf()
    # one call per batch (the default is one sample per call)
    from hardsample import LabelingToolOracle

    clf.partial_fit(X, oracle=LabelingToolOracle(tool, chunk_size=len(X)), classes=np.arange(10))
    paid = clf.labeled_indices_.copy()
    with pytest.raises(LabelingError, match="already paid for are kept") as info:
        clf.partial_fit(X)
    message = str(info.value)
    assert {"raises": "solver crashed", "wrong length": "returned", "nan": "NaN"}[failure] in message
    np.testing.assert_array_equal(clf.labeled_indices_, paid)
    assert len(clf.failed_labels_) > 0 and all("error" in f for f in clf.failed_labels_)
    assert len(clf.history_) == 1


def test_partial_failures_are_replaced(digits):
    X, y = digits
    lookup = {x.tobytes(): label for x, label in zip(X, y)}

    def flaky(batch):
        labels = [lookup[x.tobytes()] for x in batch]
        if len(batch) > 1:
            raise RuntimeError("batch too big")  # forces sample-by-sample labeling
        if labels[0] == 3:
            raise RuntimeError("cannot label a three")
        return labels

    clf = _clf().fit(X, oracle=flaky, classes=np.arange(10))
    assert len(clf.labeled_indices_) == 80
    assert 3 not in clf.y_labeled_
    failed = [f["index"] for f in clf.failed_labels_]
    assert failed and set(failed).isdisjoint(clf.labeled_indices_)
    assert all(y[i] == 3 for i in failed)


def test_oracle_labels_outside_classes(digits):
    X, y = digits
    with pytest.raises(LabelingError, match="not one of classes_"):
        _clf().fit(X, oracle=lambda b: np.full(len(b), 42), classes=np.arange(10))


def test_classifier_target_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match="Unknown label type"):
        _clf().fit(X, y + 0.5)
    with pytest.raises(ValueError, match="only one class"):
        _clf().fit(X, np.zeros(len(y)))


def test_predict_before_fit(digits):
    X, _ = digits
    with pytest.raises(NotFittedError):
        _clf().predict(X)
    with pytest.raises(NotFittedError):
        _clf().predict_proba(X)
    with pytest.raises(NotFittedError):
        LatentHardMiningRegressor(make_regressor_net(), PCAGenerator(3)).predict(X)


def test_predict_checks_input(digits):
    X, y = digits
    clf = _clf(n_rounds=1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :5])
    X_nan = X[:3].copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(X_nan)


# ------------------------------------------------------------ pools on disk
def test_uint8_memmap_pool_gives_the_same_run_as_the_array(digits, tmp_path):
    from hardsample import Pool

    X, y = digits
    raw = np.round(X * 16).astype(np.uint8)
    on_disk = np.lib.format.open_memmap(tmp_path / "pool.npy", mode="w+", dtype=np.uint8,
                                        shape=raw.shape)
    on_disk[:] = raw
    on_disk.flush()
    pool = Pool(np.load(tmp_path / "pool.npy", mmap_mode="r"),
                transform=lambda b: b.astype(np.float32) / 16.0)
    from_disk = _clf(sampler="latent-margin").fit(pool, y)
    in_memory = _clf(sampler="latent-margin").fit(raw.astype(np.float32) / 16.0, y)
    np.testing.assert_array_equal(from_disk.labeled_indices_, in_memory.labeled_indices_)
    np.testing.assert_array_equal(from_disk.predict(X[:50]), in_memory.predict(X[:50]))
    assert from_disk.partial_fit(pool, y).history_[-1]["round"] == 4


@pytest.mark.parametrize("sampler", ["latent-margin", "margin"])  # encoded / validated pool
def test_partial_fit_catches_a_changed_memmap_pool(digits, tmp_path, sampler):
    from hardsample import Pool

    X, y = digits
    raw = np.round(X * 16).astype(np.uint8)
    path = tmp_path / "pool.u8"
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=raw.shape)
    mm[:] = raw
    mm.flush()

    def pool(rows=None):
        data = np.memmap(path, dtype=np.uint8, mode="r", shape=raw.shape)
        return Pool(data if rows is None else data[:rows], transform=lambda b: b / 16.0)

    clf = _clf(sampler=sampler, n_rounds=1).fit(pool(), y)
    clf.partial_fit(pool(), y)  # the same pool: fine
    paid = clf.n_oracle_calls_
    mm[1:28] = raw[1:28][::-1]  # rows 1-27 reversed
    mm.flush()
    with pytest.raises(ValueError, match="pool changed between partial_fit calls: X holds "
                                         "other values, or the same rows in another order"):
        clf.partial_fit(pool(), y)
    mm[:] = raw
    mm[900, 7] = 0 if raw[900, 7] else 1  # one value rewritten
    mm.flush()
    with pytest.raises(ValueError, match="X holds other values"):
        clf.partial_fit(pool(), y)
    mm[:] = raw
    mm.flush()
    with pytest.raises(ValueError, match="X holds 1,796 rows of shape \\(64,\\) stored as "
                                         "\\|u1 now, 1,797 rows"):
        clf.partial_fit(pool(len(raw) - 1), y[:-1])  # truncated
    with pytest.raises(ValueError, match="y holds other labels"):
        clf.partial_fit(pool(), np.roll(y, 1))
    assert clf.n_oracle_calls_ == paid  # nothing paid for on a changed pool
    assert clf.partial_fit(pool(), y).n_oracle_calls_ > paid  # restored: fine


def test_partial_fit_catches_a_reordered_dask_pool(digits):
    da = importorskip_unless_ci("dask.array")
    X, y = digits
    clf = _clf(sampler="margin", n_rounds=1).fit(da.from_array(X, chunks=500), y)
    clf.partial_fit(da.from_array(X, chunks=300), y)  # other chunks, same rows: fine
    order = np.arange(len(X))
    order[1:28] = order[1:28][::-1]
    with pytest.raises(ValueError, match="X holds other values, or the same rows in another"):
        clf.partial_fit(da.from_array(X, chunks=500)[order], y[order])


def test_dask_array_pool(digits):
    da = importorskip_unless_ci("dask.array")
    X, y = digits
    clf = _clf(sampler="margin").fit(da.from_array(X, chunks=500), y)
    np.testing.assert_array_equal(clf.labeled_indices_,
                                  _clf(sampler="margin").fit(X, y).labeled_indices_)


def test_bad_rows_of_a_lazy_pool_fail_before_any_label(digits):
    from hardsample import Pool

    X, y = digits
    X_bad = X.copy()
    X_bad[1500, 3] = np.nan
    oracle = DatasetOracle(y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        _clf(sampler="random").fit(Pool(X_bad, transform=lambda b: b), oracle=oracle,
                                   classes=np.arange(10))
    assert oracle.n_queries_ == 0


# ------------------------------------------------------------ round 1: initial=
def test_initial_random_is_the_shared_round_one(digits):
    X, y = digits
    default = _clf(sampler="margin", n_rounds=1).fit(X, y)
    explicit = _clf(sampler="entropy", initial="random", n_rounds=1).fit(X, y)
    np.testing.assert_array_equal(default.labeled_indices_, explicit.labeled_indices_)


class _RecordingInitial(RepresentativeSampler):
    proposals = []

    def _propose(self, state, n, random_state):
        proposal = super()._propose(state, n, random_state)
        self.proposals.append((n, state.net, proposal.indices))
        return proposal


def test_initial_sampler_chooses_round_one_only(digits):
    X, y = digits
    _RecordingInitial.proposals = []
    clf = _clf(sampler="margin", initial=_RecordingInitial(space="pca", n_components=10),
               n_rounds=3).fit(X, y)
    [(n, net, indices)] = _RecordingInitial.proposals  # asked once, for round 1
    assert n == 40 and net is None
    np.testing.assert_array_equal(clf.labeled_indices_[:40], indices)
    assert isinstance(clf.initial_sampler_, _RecordingInitial)
    assert _clf(n_rounds=1).fit(X, y).initial_sampler_ is None
    assert len(clf.labeled_indices_) == 80
    assert set(clf.history_[0]["mining_split"]) == {"features", "clustering", "picking"}


def test_initial_in_the_latent_space_fits_the_generator_for_a_pool_sampler(digits):
    X, y = digits
    clf = _clf(sampler="margin", initial="typiclust", n_rounds=1).fit(X, y)
    assert clf.generator_ is not None and clf.latent_codes_.shape == (len(X), 3)
    pca_only = _clf(sampler="margin", initial=RepresentativeSampler(space="pca"),
                    n_rounds=1).fit(X, y)
    assert pca_only.generator_ is None


@pytest.mark.parametrize("initial, match", [
    ("margin", "needs a trained net"),
    (CoreSetSampler(features="penultimate"), "needs a trained net"),
    (RepresentativeSampler(space="pixels"), "space"),
    ("first-ones", "initial"),
])
def test_bad_initial_fails_before_any_label(digits, initial, match):
    X, y = digits
    oracle = DatasetOracle(y)
    with pytest.raises(ValueError, match=match):
        _clf(sampler="random", initial=initial).fit(X, oracle=oracle, classes=np.arange(10))
    assert oracle.n_queries_ == 0


def test_initial_in_the_latent_space_needs_a_generator(digits):
    X, y = digits
    clf = LatentHardMiningClassifier(make_classifier_net(), sampler="random",
                                     initial="typiclust", initial_size=20, n_rounds=1)
    with pytest.raises(ValueError, match=r"initial='typiclust': .* works in a latent space"):
        clf.fit(X, y)


def test_grid_search_over_the_initial_sampler(digits):
    X, y = digits
    search = GridSearchCV(_clf(sampler="random", initial=RepresentativeSampler(space="pca"),
                               n_rounds=1),
                          {"initial__criterion": ["typicality", "centroid"]}, cv=2).fit(X, y)
    assert set(search.cv_results_["param_initial__criterion"]) == {"typicality", "centroid"}
