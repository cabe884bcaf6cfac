"""The sampler contract (samplers/_base.py): state, proposals, checks, the uniform draw."""
import numpy as np
import pytest
from sklearn.decomposition import PCA

from hardsample.samplers import (
    BaseSampler,
    ClusterMarginSampler,
    MiningState,
    RepresentativeSampler,
)
from hardsample.samplers._base import GeneratorCapabilities, draw_available, generator_capabilities


def small_state(excluded):
    excluded = np.asarray(excluded, dtype=bool)
    X = np.arange(len(excluded), dtype=np.float32)[:, None]
    return MiningState(X_pool=X, latent_codes=None, excluded=excluded, X_labeled=X[excluded],
                       y_labeled=np.zeros(int(excluded.sum()), dtype=np.int64), z_labeled=None,
                       net=None)


def test_a_sampler_without_propose_says_what_it_must_implement():
    class Bare(BaseSampler):
        pass

    with pytest.raises(NotImplementedError, match=r"^Bare must implement _propose\.$"):
        Bare().propose(small_state([False, False]), 1, np.random.RandomState(0))


def test_draw_available_may_take_every_available_sample_but_not_more():
    state = small_state([True, False, False, True, False, False])
    picks = draw_available(state, 4, np.random.RandomState(0))
    np.testing.assert_array_equal(picks, [1, 2, 4, 5])
    assert picks.dtype == np.int64
    with pytest.raises(ValueError, match=r"^Asked for 5 samples but only 4 are unlabeled\.$"):
        draw_available(state, 5, np.random.RandomState(0))


def test_no_generator_offers_nothing():
    assert generator_capabilities(None) == GeneratorCapabilities(None, False, False, False)


TASK_ERROR = r"^task must be 'classification', 'regression' or None, got 'clustering'\.$"


@pytest.mark.parametrize("cls", [ClusterMarginSampler, RepresentativeSampler])
def test_latent_or_pca_samplers_point_to_pca_when_the_codes_are_missing(cls):
    with pytest.raises(ValueError, match=rf"^{cls.__name__}\(\) works in a latent space.* Or use "
                                         r"space='pca': a PCA of the inputs, no generator "
                                         r"needed\.$"):
        cls().check_compatible(task="classification", net=None, generator=None)


@pytest.mark.parametrize("cls", [ClusterMarginSampler, RepresentativeSampler])
@pytest.mark.parametrize("space, generator", [("pca", None), ("pca", PCA(2)), ("latent", PCA(2)),
                                              ("latent", None)])
def test_other_errors_get_no_pca_hint(cls, space, generator):
    # a bad task is not fixed by space='pca', with or without a generator
    with pytest.raises(ValueError, match=TASK_ERROR):
        cls(space=space).check_compatible(task="clustering", net=None, generator=generator)


def test_the_task_reaches_the_shared_checks_through_latent_or_pca():
    # no net to look at: only the task tells that a margin sampler cannot serve the run
    with pytest.raises(TypeError, match="class probabilities"):
        ClusterMarginSampler(space="pca").check_compatible(task="regression", net=None,
                                                           generator=None)


class OwnDecoder:
    """A generator of one's own that declares nothing but is fitted with a decoder_."""

    def fit(self, X):
        self.decoder_ = object()
        return self

    def transform(self, X):
        return X

    def inverse_transform(self, Z):
        return Z


def test_capabilities_of_undeclared_generators():
    fitted = OwnDecoder().fit(None)
    assert generator_capabilities(fitted) == GeneratorCapabilities(fitted, True, True, True)
    assert not generator_capabilities(OwnDecoder()).differentiable  # not fitted yet
    nothing = object()
    assert generator_capabilities(nothing) == GeneratorCapabilities(nothing, False, False, False)


class PlainClassifier:
    """A net that is not skorch's, known by its predict_proba."""

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


class PlainRegressor:
    def predict(self, X):
        return np.zeros(len(X))


def test_with_the_task_unknown_a_plain_net_tells_by_its_predict_proba():
    from hardsample.samplers import MarginSampler, VarianceSampler

    MarginSampler().check_compatible(task=None, net=PlainClassifier(), generator=None)
    VarianceSampler().check_compatible(task=None, net=PlainRegressor(), generator=None)
    with pytest.raises(TypeError, match="needs class probabilities"):
        MarginSampler().check_compatible(task=None, net=PlainRegressor(), generator=None)
    with pytest.raises(TypeError, match="regression targets only"):
        VarianceSampler().check_compatible(task=None, net=PlainClassifier(), generator=None)


def test_compatible_samplers_follow_the_task_or_else_the_net():
    from hardsample.samplers import compatible_samplers

    classes = compatible_samplers(task="classification")
    targets = compatible_samplers(task="regression")
    assert {"random", "margin", "bald"} <= set(classes)
    assert {"random", "variance"} <= set(targets) and not {"margin", "bald"} & set(targets)
    assert "variance" not in classes
    # with the task unknown, the net decides
    assert compatible_samplers(task=None, net=PlainClassifier()) == classes
    assert compatible_samplers(task=None, net=PlainRegressor()) == targets


def _full(message):
    import re

    return "^" + re.escape(message) + "$"


def test_compatibility_errors_in_full():
    """Each message names the sampler, what is missing and a way out, whole."""
    from sklearn.kernel_approximation import Nystroem
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hardsample.samplers import (
        InterpolationSampler,
        MarginSampler,
        NearestNeighborSampler,
        VarianceSampler,
    )

    with pytest.raises(TypeError, match=_full(
            "MarginSampler() needs class probabilities (a classifier net's predict_proba), "
            "which a regressor has not; for regression choose a sampler that needs no "
            "classes, e.g. 'random'.")):
        MarginSampler().check_compatible(task="regression", net=None, generator=None)
    with pytest.raises(TypeError, match=_full(
            "VarianceSampler() works on regression targets only; a classifier cannot use it "
            "(e.g. use 'margin' or 'random').")):
        VarianceSampler().check_compatible(task="classification", net=None, generator=None)
    with pytest.raises(ValueError, match=_full(
            "NearestNeighborSampler() works in a latent space: pass a generator whose "
            "transform gives latent codes (e.g. hardsample.generators.PCAGenerator("
            "n_components=10)), or choose a sampler that needs none.")):
        NearestNeighborSampler().check_compatible(task="classification", net=None,
                                                  generator=None)
    with pytest.raises(ValueError, match=_full(
            "NearestNeighborSampler() back-propagates through the generator's differentiable "
            "decoder (decoder_), which PCA has not (it only encodes): pass a generator with "
            "one (e.g. hardsample.generators.PCAGenerator or VAETransformer; a class of your "
            "own declares has_decoder = True), or choose a sampler that needs only codes.")):
        NearestNeighborSampler().check_compatible(task="classification", net=None,
                                                  generator=PCA(2))
    with pytest.raises(ValueError, match=_full(
            "InterpolationSampler(step_direction='random') synthesizes samples by decoding "
            "latent codes (inverse_transform), which Pipeline cannot: pass a generator that "
            "decodes (e.g. hardsample.generators.PCAGenerator), or choose a pool sampler.")):
        InterpolationSampler(step_direction="random").check_compatible(
            task="classification", net=None,
            generator=make_pipeline(StandardScaler(), Nystroem(n_components=2)))


@pytest.mark.parametrize("bad", [True, np.bool_(False), 2.5, -1, "3"])
def test_n_must_be_a_non_negative_int(bad):
    from hardsample.samplers._base import check_n

    with pytest.raises(ValueError, match=_full(f"n must be a non-negative int, got {bad!r}.")):
        check_n(bad)


def test_n_up_to_the_available_samples():
    from hardsample.samplers._base import check_n

    assert check_n(np.int64(3), 3) == 3 and type(check_n(np.int64(3), 3)) is int
    assert check_n(0, 0) == 0
    with pytest.raises(ValueError, match=_full("Asked for 4 samples but only 3 are unlabeled.")):
        check_n(4, 3)


def test_a_proposal_holds_exactly_one_of_indices_and_x():
    from hardsample.samplers import Proposal

    for kwargs in ({}, {"indices": np.array([1]), "X": np.zeros((1, 2))}):
        with pytest.raises(ValueError, match=_full("A Proposal holds exactly one of indices "
                                                   "and X.")):
            Proposal(**kwargs)


def test_a_synthesizing_sampler_may_propose_more_than_the_pool_has_left():
    from hardsample.samplers import Proposal

    class Synthesizer(BaseSampler):
        synthesizes = True

        def _propose(self, state, n, random_state):
            return Proposal(X=np.zeros((n, 1)))

    state = small_state([True, False])  # one pool sample left
    assert len(Synthesizer().propose(state, 5, np.random.RandomState(0))) == 5


def test_a_boolean_for_a_number_is_refused_by_name():
    from sklearn.utils._param_validation import InvalidParameterError

    from hardsample.samplers import MarginSampler

    with pytest.raises(InvalidParameterError, match=_full(
            "The 'batch_size' parameter of MarginSampler must be a number, got True.")):
        MarginSampler(batch_size=True).propose(small_state([False] * 3), 1,
                                               np.random.RandomState(0))


def test_a_sampler_of_ones_own_may_leave_a_parameter_unconstrained():
    from hardsample.samplers import Proposal

    class Own(BaseSampler):
        def __init__(self, note="x"):
            self.note = note

        def _propose(self, state, n, random_state):
            return Proposal(indices=state.available_indices[:n])

    np.testing.assert_array_equal(
        Own().propose(small_state([True, False, False]), 2, np.random.RandomState(0)).indices,
        [1, 2])


def test_an_out_of_range_parameter_is_refused_by_name():
    from sklearn.utils._param_validation import InvalidParameterError

    from hardsample.samplers import MarginSampler

    with pytest.raises(InvalidParameterError,
                       match=r"^The 'batch_size' parameter of MarginSampler must be an int in "
                             r"the range \[1, inf\)\. Got 0 instead\.$"):
        MarginSampler(batch_size=0).propose(small_state([False] * 3), 1,
                                            np.random.RandomState(0))
