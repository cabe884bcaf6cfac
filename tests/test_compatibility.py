"""Every sampler x net x generator combination either runs or fails before any label is paid.

The combinations are built from ``hardsample.samplers.SAMPLERS``, so a newly registered
sampler is covered without editing this file; its class declares what it needs
(``task``, ``uses_latent_space``, ``needs_decoder``, ``synthesizes``) and
``BaseSampler.check_compatible`` turns that into a clear error.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.kernel_approximation import Nystroem
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hardsample import (
    DatasetOracle,
    LabelingToolOracle,
    LatentHardMiningClassifier,
    LatentHardMiningRegressor,
)
from hardsample.generators import PCAGenerator
from hardsample.samplers import (
    SAMPLERS,
    ClusterMarginSampler,
    CoreSetSampler,
    InterpolationSampler,
    MarginSampler,
    NearestNeighborSampler,
    PriorSampler,
    RandomSampler,
    RepresentativeSampler,
    compatible_samplers,
)
from hardsample.samplers._base import generator_capabilities

from .conftest import make_classifier_net, make_regressor_net

N_POOL, INITIAL, ROUND, N_ROUNDS = 200, 10, 5, 2
GENERATORS = {
    "none": lambda: None,
    "encoder-only": lambda: make_pipeline(StandardScaler(), PCA(3)),
    "full": lambda: PCAGenerator(3),
}
NETS = ("classifier", "regressor")
OUTCOMES = {}  # (sampler, net, generator) -> "runs" / "clear error before labels"


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    weights = np.random.RandomState(0).rand(X.shape[1]).astype(np.float32)
    knn = KNeighborsClassifier(1).fit(X, y)  # a tool that answers for any input
    tools = {"classifier": knn.predict, "regressor": lambda batch: batch @ weights}
    return X[:N_POOL], {"classifier": y[:N_POOL], "regressor": X[:N_POOL] @ weights}, tools


@pytest.fixture(scope="module", autouse=True)
def combination_table():
    """Print the table of outcomes once the module ran (``pytest -s`` shows it)."""
    yield OUTCOMES
    if not OUTCOMES:
        return
    rows = ["| sampler | net | none | encoder-only | full |", "|---|---|---|---|---|"]
    for name in SAMPLERS:
        for net in NETS:
            cells = [OUTCOMES.get((name, net, g), "-") for g in GENERATORS]
            rows.append(f"| {name} | {net} | " + " | ".join(cells) + " |")
    print("\n" + "\n".join(rows))


def _estimator(net, sampler, generator):
    params = dict(sampler=sampler, initial_size=INITIAL, round_size=ROUND, n_rounds=N_ROUNDS,
                  random_state=0)
    if net == "classifier":
        return LatentHardMiningClassifier(make_classifier_net(max_epochs=1), generator, **params)
    return LatentHardMiningRegressor(make_regressor_net(max_epochs=1), generator, **params)


@pytest.mark.parametrize("generator", list(GENERATORS))
@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_runs_or_fails_before_the_first_label(data, name, net, generator):
    X, y, tools = data
    sampler = SAMPLERS[name]()
    # a synthesizing sampler needs a tool that labels any input (classes for a classifier)
    oracle = LabelingToolOracle(tools[net]) if sampler.synthesizes else DatasetOracle(y[net])
    estimator = _estimator(net, name, GENERATORS[generator]())
    classes = np.arange(10) if net == "classifier" else None
    task = "classification" if net == "classifier" else "regression"
    expected_to_run = name in compatible_samplers(task=task, net=estimator.net,
                                                  generator=estimator.generator)
    try:
        estimator.fit(X, oracle=oracle, classes=classes)
    except Exception as error:
        paid = oracle.n_queries_
        OUTCOMES[name, net, generator] = "clear error before labels" if paid == 0 else \
            f"{type(error).__name__} after {paid} labels"
        assert paid == 0, f"{name} failed after {paid} paid labels: {error!r}"
        assert isinstance(error, (TypeError, ValueError)), repr(error)
        message = str(error)
        assert message.startswith(f"sampler={name!r}: ") and "can be: " in message
        assert not expected_to_run, message
        return
    OUTCOMES[name, net, generator] = "runs"
    assert expected_to_run
    assert [r["n_labeled"] for r in estimator.history_] == [INITIAL, INITIAL + ROUND]
    assert oracle.n_queries_ == INITIAL + ROUND


def test_every_sampler_runs_somewhere():
    """The matrix above is not all errors: each sampler has a setting it works in."""
    runs = {name for name in SAMPLERS for task in ("classification", "regression")
            if name in compatible_samplers(task=task, generator=PCAGenerator(3))}
    assert runs == set(SAMPLERS)


# ----------------------------------------------------------- declarations
@pytest.mark.parametrize("sampler, generator", [
    (ClusterMarginSampler(space="pca"), None),
    (RepresentativeSampler(space="pca"), None),
    (CoreSetSampler(features="penultimate"), None),
    (NearestNeighborSampler(step_direction="random"), make_pipeline(StandardScaler(), PCA(2))),
    (NearestNeighborSampler(step_direction="zero"), PCA(2)),
    (PriorSampler(), PCA(2)),  # decodes without a gradient
    (InterpolationSampler(step_direction="random"), PCA(2)),
    (NearestNeighborSampler(), FrozenEstimator(PCAGenerator(2).fit(np.eye(5)))),
])
def test_parameters_decide_what_a_sampler_needs(sampler, generator):
    sampler.check_compatible(task="classification", net=None, generator=generator)


@pytest.mark.parametrize("sampler, generator, error, match", [
    (MarginSampler(), None, TypeError, "MarginSampler.*class probabilities.*regressor"),
    (ClusterMarginSampler(space="pca"), None, TypeError, "class probabilities"),
    (ClusterMarginSampler(), PCAGenerator(2), TypeError, "class probabilities"),
])
def test_classification_samplers_refuse_a_regressor(sampler, generator, error, match):
    with pytest.raises(error, match=match):
        sampler.check_compatible(task="regression", net=make_regressor_net(),
                                 generator=generator)
    # with the task unknown, the net tells
    with pytest.raises(error, match=match):
        sampler.check_compatible(task=None, net=make_regressor_net(), generator=generator)
    sampler.check_compatible(task=None, net=make_classifier_net(), generator=generator)


@pytest.mark.parametrize("sampler, generator, match", [
    (ClusterMarginSampler(), None, r"latent space.*transform"),
    (NearestNeighborSampler(), PCA(2), r"differentiable decoder.*PCA.*has_decoder = True"),
    (InterpolationSampler(), make_pipeline(StandardScaler(), PCA(2)),
     "differentiable decoder.*Pipeline"),
    (InterpolationSampler(step_direction="random"),
     make_pipeline(StandardScaler(), Nystroem(n_components=2)), "decoding.*Pipeline"),
])
def test_generator_capability_errors_name_what_is_missing(sampler, generator, match):
    with pytest.raises(ValueError, match=match):
        sampler.check_compatible(task="classification", net=None, generator=generator)


def test_generator_capabilities_from_the_object_or_its_class():
    fitted = PCAGenerator(2).fit(np.random.RandomState(0).rand(20, 4))
    assert generator_capabilities(PCAGenerator(2)).differentiable  # declared by its class
    assert generator_capabilities(FrozenEstimator(fitted)).differentiable
    can = generator_capabilities(make_pipeline(StandardScaler(), PCA(2)))
    assert (can.codes, can.decodes, can.differentiable) == (True, True, False)
    assert not generator_capabilities(None).codes

    class OwnGenerator:  # a generator of one's own, declared
        has_decoder = True

        def fit(self, X):
            return self

        def transform(self, X):
            return X

    assert generator_capabilities(OwnGenerator()).differentiable


def test_a_bad_task_is_refused():
    with pytest.raises(ValueError, match="task must be"):
        RandomSampler().check_compatible(task="clustering", net=None, generator=None)


def test_initial_sampler_is_checked_too(data):
    X, y, _ = data
    oracle = DatasetOracle(y["classifier"])
    clf = LatentHardMiningClassifier(make_classifier_net(max_epochs=1), sampler="random",
                                     initial="typiclust", initial_size=INITIAL, n_rounds=1)
    with pytest.raises(ValueError, match=r"initial='typiclust': .*latent space.*"
                                         r"initial= can be: 'random'"):
        clf.fit(X, oracle=oracle, classes=np.arange(10))
    assert oracle.n_queries_ == 0


def test_a_synthesizing_sampler_with_hidden_labels_fails_before_the_generator(data):
    X, y, _ = data

    class CountingGenerator(PCAGenerator):
        fits = 0

        def fit(self, X, y=None):
            type(self).fits += 1
            return super().fit(X, y)

    oracle = DatasetOracle(y["regressor"])
    reg = _estimator("regressor", "interpolation", CountingGenerator(2))
    with pytest.raises(TypeError, match="sampler='interpolation' proposes synthetic.*oracle="):
        reg.fit(X, oracle=oracle)
    assert oracle.n_queries_ == 0 and CountingGenerator.fits == 0
