"""Metadata routing: ``oracle`` and ``classes`` reach LatentHardMiningClassifier.fit
through a Pipeline and cross-validation once requested with ``set_fit_request``."""
import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_digits
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import KFold, cross_val_score, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from hardsample import LatentHardMiningClassifier
from hardsample.generators import PCAGenerator
from tests.conftest import make_classifier_net

INITIAL, ROUND, N_ROUNDS = 60, 30, 3
BUDGET = INITIAL + (N_ROUNDS - 1) * ROUND
CLASSES = np.arange(10)


def to_unit(X):
    """The pipeline's preprocessing: raw digits (0..16) to float32 in [0, 1]."""
    return (np.asarray(X) / 16.0).astype(np.float32)


@pytest.fixture(scope="module")
def raw_digits():
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def tool(raw_digits):
    """A labeling tool for what reaches the estimator (preprocessed digits): it looks
    each sample up among all digits, so it answers any fold's samples."""
    X, y = raw_digits
    return KNeighborsClassifier(n_neighbors=1).fit(to_unit(X), y).predict


def make_pipe(*, request=True):
    clf = LatentHardMiningClassifier(
        make_classifier_net(max_epochs=15), PCAGenerator(n_components=8), sampler="random",
        initial_size=INITIAL, round_size=ROUND, n_rounds=N_ROUNDS, random_state=0)
    if request:
        clf.set_fit_request(oracle=True, classes=True)
    return make_pipeline(FunctionTransformer(to_unit), clf)


def score_with_tool(tool):
    """Scorer for cross-validation without y: the tool labels the test fold too."""
    return lambda estimator, X, y=None: estimator.score(X, tool(to_unit(X)))


def test_fit_request_exposes_oracle_and_classes():
    clf = LatentHardMiningClassifier(make_classifier_net(), PCAGenerator())
    with sklearn.config_context(enable_metadata_routing=True):
        clf.set_fit_request(oracle=True, classes=True)
        requests = clf.get_metadata_routing().fit.requests
    assert requests == {"oracle": True, "classes": True}


def test_pipeline_routes_oracle_and_classes(raw_digits, tool):
    X, y = raw_digits
    X_train, X_test, y_test = X[:900], X[900:], y[900:]
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipe().fit(X_train, oracle=tool, classes=CLASSES)
        score = pipe.score(X_test, y_test)
    clf = pipe[-1]
    # The tool was asked for exactly the budget: every label came from it.
    assert clf.n_oracle_calls_ == BUDGET == len(clf.labeled_indices_)
    np.testing.assert_array_equal(clf.classes_, CLASSES)
    # It labeled the preprocessed pool correctly, so the net learned the digits.
    assert score > 0.6, score


def test_cross_validation_routes_oracle_and_classes(raw_digits, tool):
    X, _ = raw_digits
    X = X[:900]
    cv = KFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(make_pipe(), X, None, cv=cv, scoring=score_with_tool(tool),
                                params={"oracle": tool, "classes": CLASSES},
                                return_estimator=True)
        scores = cross_val_score(make_pipe(), X, None, cv=cv, scoring=score_with_tool(tool),
                                 params={"oracle": tool, "classes": CLASSES})
    for pipe in result["estimator"]:
        assert pipe[-1].n_oracle_calls_ == BUDGET
        np.testing.assert_array_equal(pipe[-1].classes_, CLASSES)
    assert np.all(result["test_score"] > 0.5), result["test_score"]
    # Both entry points route the same metadata to the same seeded fits.
    np.testing.assert_allclose(scores, result["test_score"])


def test_classes_routed_alongside_hidden_labels(raw_digits):
    """With y as the hidden labels, a routed classes= may name a class y never shows."""
    X, y = raw_digits
    X, y = X[:600], y[:600]
    classes = np.arange(11)   # 10 is never seen
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipe()
        pipe[-1].set_fit_request(oracle=False)
        result = cross_validate(pipe, X, y, cv=KFold(2), params={"classes": classes},
                                return_estimator=True)
    for fitted in result["estimator"]:
        np.testing.assert_array_equal(fitted[-1].classes_, classes)
        assert fitted[-1].predict_proba(X[:5]).shape == (5, 11)
    assert np.all(result["test_score"] > 0.5), result["test_score"]


def test_unrequested_metadata_is_refused(raw_digits, tool):
    X, _ = raw_digits
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(UnsetMetadataPassedError, match="oracle"):
            make_pipe(request=False).fit(X[:300], oracle=tool, classes=CLASSES)
        with pytest.raises(UnsetMetadataPassedError, match="oracle"):
            cross_val_score(make_pipe(request=False), X[:300], None, cv=2,
                            scoring=score_with_tool(tool), error_score="raise",
                            params={"oracle": tool, "classes": CLASSES})
    assert sklearn.get_config()["enable_metadata_routing"] is False
