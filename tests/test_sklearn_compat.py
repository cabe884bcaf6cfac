"""scikit-learn's estimator checks on the meta-estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from hardsample import LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator

from .conftest import make_classifier_net, make_regressor_net

# Fractions so the budget fits the checks' data sets, from 1 sample to 300.
BUDGET = dict(initial_size=0.3, round_size=0.2, n_rounds=2, random_state=0)


def _estimators():
    yield LatentHardMiningClassifier(
        make_classifier_net(max_epochs=20), PCAGenerator(n_components=1), **BUDGET)
    yield LatentHardMiningClassifier(make_classifier_net(max_epochs=20), sampler="random", **BUDGET)
    yield LatentHardMiningRegressor(
        make_regressor_net(max_epochs=20), PCAGenerator(n_components=1), **BUDGET)


EXPECTED_FAILED = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(list(_estimators()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
