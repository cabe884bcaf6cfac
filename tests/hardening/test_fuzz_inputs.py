"""Fuzzed input (hypothesis): every public entry point either works or says why.

For ``fit``, ``partial_fit`` and ``predict`` of both meta-estimators and for the
generators' ``fit`` / ``transform`` / ``inverse_transform``, random shapes, dtypes
(int, uint, float16/32/64, bool, object), NaN / inf patterns, empty arrays, 1-sample
pools, DataFrames and lists for X, and odd labels for y each either

- work, and the result is checked (shapes, ``classes_``, labels, finiteness), or
- raise a ValueError or TypeError raised by hardsample or scikit-learn's input
  validation, never an error from deep inside torch, skorch, numpy or scipy.

Inputs that are plainly valid (finite numbers, a pool at least as large as the
budget, two classes) must work.
"""

import traceback
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis.errors import InvalidArgument
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skorch import NeuralNetClassifier, NeuralNetRegressor

from hardsample import LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator, VAETransformer
from hardsample.nets import MLP

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BUDGET = dict(initial_size=2, round_size=1, n_rounds=2)  # 3 labels
ALLOWED_ORIGINS = ("/hardsample/", "/sklearn/")
FORBIDDEN_ORIGINS = ("/torch/", "/skorch/", "/numpy/", "/scipy/", "/pandas/")

DTYPES = [np.int8, np.int64, np.uint8, np.float16, np.float32, np.float64, np.bool_, object,
          np.complex128, "U3"]


def _net(kind):
    common = dict(module__hidden_sizes=(4,), max_epochs=1, batch_size=4, verbose=0)
    if kind == "classifier":
        return NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss, **common)
    return NeuralNetRegressor(MLP, **common)


def _estimator(kind, sampler):
    cls = LatentHardMiningClassifier if kind == "classifier" else LatentHardMiningRegressor
    return cls(_net(kind), PCAGenerator(n_components=1), sampler=sampler, random_state=0,
               **BUDGET)


def _call(func, *args, **kwargs):
    """Run func; return (result, None) or (None, exc) for an acceptable, clear error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - checked below
            _check_clear_error(exc)
            _note(f"{getattr(func, '__name__', func)}: {type(exc).__name__}")
            return None, exc
    _note(f"{getattr(func, '__name__', func)}: ok")
    return result, None


def _note(text):
    """Count outcomes in hypothesis' statistics (--hypothesis-show-statistics)."""
    try:
        event(text)
    except InvalidArgument:  # outside a hypothesis test
        pass


def _check_clear_error(exc):
    assert isinstance(exc, (ValueError, TypeError)), (
        f"{type(exc).__name__}: {exc}\n{''.join(traceback.format_tb(exc.__traceback__))}")
    origin = traceback.extract_tb(exc.__traceback__)[-1].filename.replace("\\", "/")
    assert any(part in origin for part in ALLOWED_ORIGINS) and \
        not any(part in origin for part in FORBIDDEN_ORIGINS), (
        f"{type(exc).__name__} raised in {origin}: {exc}\n"
        f"{''.join(traceback.format_tb(exc.__traceback__))}")
    assert str(exc).strip(), "an error without a message"


# ------------------------------------------------------------------ strategies
def _floats(allow_special):
    finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
    if not allow_special:
        return finite
    return st.one_of(finite, finite, finite, st.sampled_from([np.nan, np.inf, -np.inf]))


@st.composite
def sample_arrays(draw, min_samples=0, max_samples=10, allow_special=True, shape=None):
    """A numpy array of samples: random dtype and shape (or the given sample shape).

    Half of the draws are plain finite float arrays of 3+ samples, so that the
    valid path is exercised as often as the error paths.
    """
    plain = draw(st.booleans())
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64] if plain else DTYPES))
    n = draw(st.integers(max(min_samples, 3) if plain else min_samples, max_samples))
    if shape is None:
        shapes = [(1,), (3,), (2, 2), (1, 2, 2)]
        shape = draw(st.sampled_from(shapes if plain else shapes + [(0,), (2, 0)]))
    allow_special = allow_special and not plain
    if dtype == "U3":
        return draw(hnp.arrays("U3", (n, *shape), elements=st.sampled_from(["1", "2.5", "x"])))
    if dtype is np.complex128:
        return draw(hnp.arrays(np.complex128, (n, *shape),
                               elements=st.complex_numbers(max_magnitude=10)))
    if dtype is np.bool_:
        elements = st.booleans()
    elif np.issubdtype(np.dtype(dtype) if dtype is not object else np.float64, np.integer):
        info = np.iinfo(dtype)
        elements = st.integers(max(info.min, -100), min(info.max, 100))
    else:
        elements = _floats(allow_special and dtype is not np.float16)
        if dtype is np.float16:
            elements = st.floats(-100, 100, width=16)
    base = np.float64 if dtype is object else dtype
    X = draw(hnp.arrays(base, (n, *shape), elements=elements))
    return X.astype(object) if dtype is object else X


@st.composite
def containers(draw, X):
    """X as an ndarray, a nested list or (2-D only) a DataFrame."""
    kind = draw(st.sampled_from(["array", "list", "frame"] if X.ndim == 2 else ["array", "list"]))
    if kind == "list":
        return X.tolist()
    if kind == "frame":
        return pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    return X


def _plainly_valid(X):
    if X.dtype.kind not in "biuf" and X.dtype != object:
        return False
    X = np.asarray(X, dtype=np.float64)
    return X.ndim >= 2 and 0 not in X.shape[1:] and bool(np.isfinite(X).all())


LABELS = st.sampled_from([
    np.array([0, 1]), np.array([-7, 1000, 3]), np.array(["cat", "dog"]), np.array([True, False]),
    np.array([0.0, 1.0]), np.array([2.5, 0.1]), np.array([1, "a"], dtype=object),
    np.array([None, 1], dtype=object), np.array([0.0, np.nan]), np.array([5]),
])


# ------------------------------------------------------------------ estimators
@FUZZ
@given(data=st.data(), kind=st.sampled_from(["classifier", "regressor"]),
       sampler=st.sampled_from(["random", "nearest"]))
def test_fit_and_predict_fuzzed_X(data, kind, sampler):
    X_array = data.draw(sample_arrays(min_samples=0, max_samples=8), label="X")
    X = data.draw(containers(X_array), label="container")
    n = len(X_array)
    y = np.arange(n) % 2 if kind == "classifier" else np.linspace(0, 1, n)
    est = _estimator(kind, sampler)
    fitted, error = _call(est.fit, X, y)
    if _plainly_valid(X_array) and n >= 3:
        assert error is None, error
    if error is not None:
        return
    assert len(est.labeled_indices_) == 3 and len(set(est.labeled_indices_)) == 3
    assert est.sample_shape_ == X_array.shape[1:]
    prediction = est.predict(X)
    assert prediction.shape == (n,)
    if kind == "classifier":
        np.testing.assert_array_equal(est.classes_, [0, 1])
        assert set(prediction) <= {0, 1}
        np.testing.assert_array_equal(est.y_labeled_, y[est.labeled_indices_])
    else:
        assert np.isfinite(prediction).all()


@FUZZ
@given(data=st.data(), sampler=st.sampled_from(["random", "nearest"]))
def test_classifier_fit_fuzzed_labels(data, sampler):
    values = data.draw(LABELS, label="label values")
    n = data.draw(st.integers(1, 8), label="n")
    picks = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, len(values) - 1)))
    y = values[picks]
    y = data.draw(st.sampled_from([y, y.tolist(), pd.Series(y)]), label="y container")
    X = np.random.RandomState(n).rand(n, 3).astype(np.float32)
    est = _estimator("classifier", sampler)
    _, error = _call(est.fit, X, y)
    distinct = pd.unique(np.asarray(y, dtype=object))
    simple = values.dtype != object and not (values.dtype.kind == "f" and
                                             (np.isnan(values).any() or (values % 1).any()))
    if simple and n >= 3 and len(distinct) >= 2:
        assert error is None, error
    if error is not None:
        return
    # classes_ are the distinct labels, sorted, in their own type; predictions are labels.
    np.testing.assert_array_equal(est.classes_, np.unique(np.asarray(y)))
    np.testing.assert_array_equal(est.y_labeled_, np.asarray(y)[est.labeled_indices_])
    assert set(est.predict(X).tolist()) <= set(est.classes_.tolist())


@FUZZ
@given(data=st.data())
def test_regressor_fit_fuzzed_targets(data):
    n = data.draw(st.integers(1, 8), label="n")
    shape = data.draw(st.sampled_from([(), (1,), (2,), (2, 2), (0,)]), label="target shape")
    dtype = data.draw(st.sampled_from([np.float64, np.float32, np.int64, np.bool_, object, "U3"]))
    if dtype == "U3":
        y = data.draw(hnp.arrays("U3", (n, *shape), elements=st.sampled_from(["1", "x", "2.5"])))
    elif dtype is np.bool_:
        y = data.draw(hnp.arrays(np.bool_, (n, *shape)))
    elif dtype is np.int64:
        y = data.draw(hnp.arrays(np.int64, (n, *shape), elements=st.integers(-50, 50)))
    else:
        y = data.draw(hnp.arrays(np.float64, (n, *shape), elements=_floats(True)))
        y = y.astype(dtype)
    X = np.random.RandomState(n).rand(n, 3).astype(np.float32)
    est = _estimator("regressor", "random")
    _, error = _call(est.fit, X, y)
    numeric = dtype not in ("U3",) and np.isfinite(np.asarray(y, dtype=object).astype(
        float) if dtype is not object else y.astype(float)).all()
    if numeric and n >= 3 and 0 not in shape and shape in ((), (1,)):
        assert error is None, error
    if error is not None:
        return
    if len(est.pending_):  # NaN targets: the run waits for labels, nothing is trained
        assert not np.isfinite(np.asarray(y, dtype=np.float64)[est.pending_]).all()
        return
    assert est.predict(X).shape == (n, *shape)
    np.testing.assert_allclose(est.y_labeled_,
                               np.asarray(y, dtype=np.float32)[est.labeled_indices_])


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["classifier", "regressor"]))
def test_partial_fit_fuzzed(data, kind):
    X_array = data.draw(sample_arrays(min_samples=0, max_samples=6), label="X")
    X = data.draw(containers(X_array), label="container")
    n = len(X_array)
    y = np.arange(n) % 2 if kind == "classifier" else np.linspace(0, 1, n)
    est = _estimator(kind, "nearest")
    _, error = _call(est.partial_fit, X, y)
    if _plainly_valid(X_array) and n >= 2:
        assert error is None, error
    if error is not None:
        return
    assert len(est.labeled_indices_) == 2 and len(est.history_) == 1
    # A second round on the same pool, as the same container.
    _, error = _call(est.partial_fit, X, y)
    if error is None:
        assert len(est.labeled_indices_) == 3 and len(est.history_) == 2
    else:
        assert n < 3 and "unlabeled" in str(error)
    # A changed pool is refused.
    changed = np.array(X_array, dtype=np.float64) + 1
    with pytest.raises(ValueError, match="pool changed"):
        est.partial_fit(changed, y)


_FITTED = {}


def _fitted(kind):
    if kind not in _FITTED:
        rng = np.random.RandomState(0)
        X = rng.rand(12, 2, 2).astype(np.float32)
        y = np.arange(12) % 3 if kind == "classifier" else rng.rand(12)
        _FITTED[kind] = _estimator(kind, "nearest").fit(X, y)
    return _FITTED[kind]


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["classifier", "regressor"]))
def test_predict_fuzzed_X(data, kind):
    shape = data.draw(st.sampled_from([(2, 2), (2, 2), (4,), (2, 2, 1), (0,)]), label="shape")
    X_array = data.draw(sample_arrays(min_samples=0, max_samples=5, shape=shape), label="X")
    X = data.draw(containers(X_array), label="container")
    est = _fitted(kind)
    prediction, error = _call(est.predict, X)
    if _plainly_valid(X_array) and shape == (2, 2) and len(X_array) >= 1:
        assert error is None, error
    if error is not None:
        return
    assert prediction.shape == (len(X_array),)
    if kind == "classifier":
        assert set(prediction.tolist()) <= {0, 1, 2}
        proba = est.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    else:
        assert np.isfinite(prediction).all()


# ------------------------------------------------------------------ generators
@FUZZ
@given(data=st.data(), which=st.sampled_from(["pca", "vae"]))
def test_generators_fit_transform_fuzzed(data, which):
    X_array = data.draw(sample_arrays(min_samples=0, max_samples=8), label="X")
    X = data.draw(containers(X_array), label="container")
    n_components = data.draw(st.integers(1, 3), label="latent_dim")
    if which == "pca":
        generator = PCAGenerator(n_components=n_components, random_state=0)
    else:
        generator = VAETransformer(latent_dim=n_components, hidden_sizes=(4,), max_epochs=1,
                                   batch_size=4, random_state=0)
    _, error = _call(generator.fit, X)
    n_values = int(np.prod(X_array.shape[1:]))
    fits_pca = which == "vae" or n_components <= min(len(X_array), n_values)
    if _plainly_valid(X_array) and len(X_array) >= 2 and fits_pca:
        assert error is None, error
    if error is not None:
        return
    Z, error = _call(generator.transform, X)
    assert error is None, error
    assert Z.shape == (len(X_array), generator.latent_dim_) and Z.dtype == np.float32
    if which == "vae" and not np.isfinite(Z).all():
        # Known issue (see test_vae_divergence_is_reported): on unscaled samples of
        # magnitude ~100 and more the VAE's training diverges silently.
        assert np.abs(np.asarray(X_array, dtype=np.float64)).max() >= 100
        return
    assert np.isfinite(Z).all()
    X_back, error = _call(generator.inverse_transform, Z)
    assert error is None, error
    assert X_back.shape == X_array.shape
    # Codes of the wrong width, and samples of another shape, are refused clearly.
    _, error = _call(generator.inverse_transform, np.zeros((2, generator.latent_dim_ + 1)))
    assert isinstance(error, ValueError)
    _, error = _call(generator.transform, np.zeros((2, n_values + 1)))
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("sampler", ["random", "nearest"])
def test_one_sample_pool(kind, sampler):
    X = np.ones((1, 3), dtype=np.float32)
    y = np.array([0]) if kind == "classifier" else np.array([0.5])
    cls = LatentHardMiningClassifier if kind == "classifier" else LatentHardMiningRegressor
    est = cls(_net(kind), PCAGenerator(n_components=1), sampler=sampler, initial_size=1,
              n_rounds=1, random_state=0)
    _, error = _call(est.fit, X, y)
    if kind == "classifier":  # one class: cannot train a classifier
        assert isinstance(error, ValueError) and "at least 2 classes" in str(error)
    elif sampler == "nearest":  # the generator needs two samples to fit
        assert isinstance(error, ValueError) and "minimum of 2" in str(error)
    else:
        assert error is None, error
        assert est.labeled_indices_.tolist() == [0] and est.predict(X).shape == (1,)


def test_vae_divergence_is_reported():
    X = np.random.RandomState(0).randn(20, 3).astype(np.float32) * 900
    with pytest.raises(ValueError, match="diverged"):
        VAETransformer(latent_dim=1, hidden_sizes=(4,), max_epochs=1, batch_size=4,
                       random_state=0).fit(X)
