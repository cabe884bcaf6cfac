"""scikit-learn's estimator checks on the meta-estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from hardsample import LatentHardMiningClassifier, LatentHardMiningRegressor
from hardsample.generators import PCAGenerator

from .conftest import make_classifier_net, make_regressor_net

# Fractions so the budget fits the checks' data sets, from 1 sample to 300.
BUDGET = dict(initial_size=0.3, round_size=0.2, n_rounds=2, random_state=0)

ESTIMATORS = [
    LatentHardMiningClassifier(
        make_classifier_net(max_epochs=20), PCAGenerator(n_components=1), sampler="nearest",
        **BUDGET),
    LatentHardMiningClassifier(make_classifier_net(max_epochs=20), **BUDGET),  # the default
    LatentHardMiningRegressor(
        make_regressor_net(max_epochs=20), PCAGenerator(n_components=1), sampler="nearest",
        **BUDGET),
]

FLOAT32_SUBSET = (
    "float32 nets: BLAS sums a batch in a different order than its subset, so outputs "
    "can differ in the last bit (~2e-7), above the check's 1e-7 tolerance"
)


# scikit-learn's own checks exempt its semi-supervised estimators by name here.
NOT_LABELED_YET = (
    "-1 (classes) and NaN (targets) in y mean 'not labeled yet', scikit-learn's "
    "semi-supervised convention: such a y is a run that waits for labels"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, LatentHardMiningRegressor):
        # Not strict: the last-bit difference shows on some batches only.
        return {"check_methods_subset_invariance": FLOAT32_SUBSET,
                "check_supervised_y_no_nan": NOT_LABELED_YET}
    return {"check_classifiers_classes": NOT_LABELED_YET}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks,
                         xfail_strict=False)
def test_sklearn_compatible(estimator, check):
    check(estimator)
