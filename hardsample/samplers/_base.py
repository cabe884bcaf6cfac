"""The sampler contract: what to label next.

A sampler never trains and never labels. The estimator hands it a read-only
:class:`MiningState` and asks for ``n`` samples; it answers with a :class:`Proposal`:
pool indices (samplers over a pool of real samples) or synthetic samples (samplers
for a labeling tool that answers for any input).
"""

import numbers
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    validate_parameter_constraints,
)


@dataclass(frozen=True)
class MiningState:
    """What a sampler may look at, frozen for one round.

    Attributes
    ----------
    X_pool : ndarray of shape (n_pool, ...)
        The pool of real samples, as the net consumes them.
    latent_codes : ndarray of shape (n_pool, latent_dim) or None
        The pool's latent codes (None when the sampler does not use the latent space).
    excluded : ndarray of bool of shape (n_pool,)
        Pool samples that may not be proposed: labeled ones and ones whose labeling
        failed.
    X_labeled : ndarray of shape (n_labeled, ...)
        Every labeled training sample (real and synthetic), in labeling order.
    y_labeled : ndarray of shape (n_labeled, ...)
        Their targets in the form the net is trained on (class indices for
        classifiers).
    z_labeled : ndarray of shape (n_labeled, latent_dim) or None
        Their latent codes.
    net : skorch.NeuralNet
        The target net, trained on the labeled set.
    generator : fitted generator or None
    latent_index : hardsample.neighbors.LatentIndex or None
        An index over ``latent_codes``.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.samplers import MiningState
    >>> state = MiningState(X_pool=np.zeros((4, 2)), latent_codes=None,
    ...                     excluded=np.array([True, False, False, True]),
    ...                     X_labeled=np.zeros((2, 2)), y_labeled=np.array([0, 1]),
    ...                     z_labeled=None, net=None)
    >>> state.n_available, state.available_indices.tolist()
    (2, [1, 2])
    """

    X_pool: np.ndarray
    latent_codes: Optional[np.ndarray]
    excluded: np.ndarray
    X_labeled: np.ndarray
    y_labeled: np.ndarray
    z_labeled: Optional[np.ndarray]
    net: Any
    generator: Any = None
    latent_index: Any = None

    @property
    def n_available(self):
        """Number of pool samples that may still be proposed."""
        return int((~self.excluded).sum())

    @property
    def available_indices(self):
        return np.flatnonzero(~self.excluded)


@dataclass(frozen=True)
class Proposal:
    """What a sampler wants labeled.

    Exactly one of ``indices`` (pool rows) and ``X`` (synthetic samples) is set.
    ``latent_codes`` are the codes of the proposed samples where the sampler knows
    them, and ``anchors`` the labeled rows (positions in ``X_labeled``) they were
    mined from, for diagnostics and trajectory plots. ``timings`` maps the stages of
    the sampler's work (e.g. ``"gradient"``, ``"neighbors"``, ``"judging"``) to the
    seconds they took; the estimator sums them into ``history_[i]["mining_split"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.samplers import Proposal
    >>> len(Proposal(indices=np.array([7, 3])))
    2
    >>> Proposal(indices=np.array([1]), X=np.zeros((1, 2)))
    Traceback (most recent call last):
    ...
    ValueError: A Proposal holds exactly one of indices and X.
    """

    indices: Optional[np.ndarray] = None
    X: Optional[np.ndarray] = None
    latent_codes: Optional[np.ndarray] = None
    anchors: Optional[np.ndarray] = None
    timings: Optional[dict] = None

    def __post_init__(self):
        if (self.indices is None) == (self.X is None):
            raise ValueError("A Proposal holds exactly one of indices and X.")

    def __len__(self):
        return len(self.indices if self.indices is not None else self.X)


class BaseSampler(BaseEstimator):
    """Base class of the samplers: parameter objects in scikit-learn's sense.

    Samplers take their settings in ``__init__`` and keep no state between rounds,
    so ``get_params``/``set_params``, ``clone`` and grid searches over
    ``sampler__<param>`` work on every one. Each declares its parameters'
    constraints in ``_parameter_constraints``; :meth:`propose` validates them and
    ``n``, then calls ``_propose``. The estimator validates a sampler's parameters
    once more when ``fit`` starts, before any label is paid for.

    Class attributes tell the estimator what a sampler needs (a subclass may make
    one a property of its parameters, e.g. ``space="pca"`` needs no generator):

    - ``uses_latent_space``: the estimator fits the generator and encodes the pool,
      so a generator whose ``transform`` gives latent codes is needed;
    - ``needs_decoder``: the sampler back-propagates through the generator's
      differentiable decoder (``decoder_``, a ``torch.nn.Module``);
    - ``task``: ``"classification"`` (needs a classifier net's class
      probabilities, ``predict_proba``), ``"regression"``, or None (both);
    - ``synthesizes``: proposals are synthetic samples, labeled by a labeling tool
      (decoded with the generator's ``inverse_transform`` when
      ``uses_latent_space``);
    - ``needs_net``: proposing needs the trained net, so the sampler cannot choose
      round 1 (the estimators' ``initial=``).

    :meth:`check_compatible` reads them; the estimators call it when ``fit``
    starts, before the generator is fitted and before any label is paid for.
    """

    uses_latent_space = False
    synthesizes = False
    needs_net = True
    task = None
    needs_decoder = False
    _parameter_constraints: dict = {}

    def check_compatible(self, *, task, net, generator):
        """Raise if this sampler cannot run with this task, net and generator.

        Called by the estimators before any label is paid for. Subclasses with
        further needs extend it (and call ``super().check_compatible``).

        Parameters
        ----------
        task : {"classification", "regression"} or None
            The estimator's task (None: unknown, only the net is looked at).
        net : skorch net or None
            The target net (fitted or not).
        generator : generator, FrozenEstimator or None
            The estimator's generator, as passed (see :func:`generator_capabilities`).

        Raises
        ------
        TypeError
            The sampler needs a classifier (class probabilities) or a regressor, and
            the task or net is the other one.
        ValueError
            The sampler needs latent codes, a differentiable decoder or decoding,
            and the generator has none.

        Examples
        --------
        >>> from sklearn.decomposition import PCA
        >>> from hardsample.samplers import MarginSampler, NearestNeighborSampler
        >>> MarginSampler().check_compatible(task="regression", net=None,
        ...                                  generator=None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: MarginSampler() needs class probabilities (...), which a regressor has not; ...
        >>> NearestNeighborSampler(step_direction="random").check_compatible(
        ...     task="classification", net=None, generator=PCA(2))  # codes are enough
        """
        _check_task(task)
        name = repr(self)
        classification = _is_classification(task, net)
        if self.task == "classification" and classification is False:
            raise TypeError(
                f"{name} needs class probabilities (a classifier net's predict_proba), which "
                "a regressor has not; for regression choose a sampler that needs no classes, "
                "e.g. 'random'."
            )
        if self.task == "regression" and classification is True:
            raise TypeError(f"{name} works on regression targets only; a classifier cannot "
                            "use it (e.g. use 'margin' or 'random').")
        if not (self.uses_latent_space or self.needs_decoder):
            return
        can = generator_capabilities(generator)
        if not can.codes:
            raise ValueError(
                f"{name} works in a latent space: pass a generator whose transform gives "
                "latent codes (e.g. hardsample.generators.PCAGenerator(n_components=10)), "
                "or choose a sampler that needs none."
            )
        if self.needs_decoder and not can.differentiable:
            raise ValueError(
                f"{name} back-propagates through the generator's differentiable decoder "
                f"(decoder_), which {type(can.generator).__name__} has not (it only encodes): "
                "pass a generator with one (e.g. hardsample.generators.PCAGenerator or "
                "VAETransformer; a class of your own declares has_decoder = True), or choose "
                "a sampler that needs only codes."
            )
        if self.synthesizes and self.uses_latent_space and not can.decodes:
            raise ValueError(
                f"{name} synthesizes samples by decoding latent codes (inverse_transform), "
                f"which {type(can.generator).__name__} cannot: pass a generator that decodes "
                "(e.g. hardsample.generators.PCAGenerator), or choose a pool sampler."
            )

    def propose(self, state, n, random_state):
        """Return a :class:`Proposal` of ``n`` samples to label next.

        Parameters
        ----------
        state : MiningState
        n : int
            Samples wanted (at most ``state.n_available`` for pool samplers).
        random_state : numpy.random.RandomState
            The round's random stream.
        """
        self._validate_params()
        n = check_n(n, None if self.synthesizes else state.n_available)
        return self._propose(state, n, random_state)

    def _propose(self, state, n, random_state):
        raise NotImplementedError(f"{type(self).__name__} must implement _propose.")

    def initial_proposal(self, state, n, random_state):
        """Round 1: ``n`` pool samples drawn uniformly at random.

        Every pool sampler starts here, so that strategies given the same seed
        start from the same labels.
        """
        return Proposal(indices=draw_available(state, n, random_state))

    def _validate_params(self):
        params = self.get_params(deep=False)
        for name, value in params.items():
            numeric = any(isinstance(c, Interval) for c in self._parameter_constraints.get(name, ()))
            if numeric and isinstance(value, (bool, np.bool_)):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a number, "
                    f"got {value!r}.")
        validate_parameter_constraints(self._parameter_constraints, params,
                                       caller_name=type(self).__name__)


def check_n(n, n_available=None):
    """Validate a request for ``n`` samples (at most ``n_available`` distinct pool samples)."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}.")
    if n_available is not None and n > n_available:
        raise ValueError(f"Asked for {n} samples but only {n_available} are unlabeled.")
    return int(n)


def draw_available(state, n, random_state):
    """``n`` distinct pool indices drawn uniformly among the available ones."""
    available = state.available_indices
    if n > len(available):
        raise ValueError(f"Asked for {n} samples but only {len(available)} are unlabeled.")
    return np.sort(random_state.choice(available, size=n, replace=False)).astype(np.int64)


@dataclass(frozen=True)
class GeneratorCapabilities:
    """What a generator offers the samplers (see :func:`generator_capabilities`)."""

    generator: Any
    codes: bool
    decodes: bool
    differentiable: bool


def generator_capabilities(generator):
    """What ``generator`` offers: latent codes, decoding, a differentiable decoder.

    A :class:`~sklearn.frozen.FrozenEstimator` is looked through to the fitted
    generator inside. ``codes``: it has ``transform``. ``decodes``: it has
    ``inverse_transform``. ``differentiable``: a fitted one has a ``decoder_``, an
    unfitted one's class declares ``has_decoder = True`` (as
    :class:`~hardsample.generators.BaseGenerator` does). A plain scikit-learn
    transformer or Pipeline declares nothing: it only encodes (and decodes when
    every step has ``inverse_transform``), with no gradient to follow.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from hardsample.generators import PCAGenerator
    >>> from hardsample.samplers._base import generator_capabilities
    >>> generator_capabilities(PCA(2)).differentiable
    False
    >>> generator_capabilities(PCAGenerator(2)).differentiable
    True
    """
    if isinstance(generator, FrozenEstimator):
        generator = generator.estimator
    if generator is None:
        return GeneratorCapabilities(None, False, False, False)
    differentiable = getattr(generator, "decoder_", None) is not None or \
        bool(getattr(type(generator), "has_decoder", False))
    return GeneratorCapabilities(
        generator=generator,
        codes=callable(getattr(generator, "transform", None)),
        decodes=callable(getattr(generator, "inverse_transform", None)),
        differentiable=differentiable,
    )


def _check_task(task):
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be 'classification', 'regression' or None, got {task!r}.")


def _is_classification(task, net):
    """Whether the task (or, when unknown, the net) is classification; None: unknown."""
    if task is not None:
        return task == "classification"
    if net is None:
        return None
    import skorch

    if isinstance(net, skorch.NeuralNet):
        return isinstance(net, skorch.NeuralNetClassifier)
    return callable(getattr(net, "predict_proba", None))


class LatentOrPCASampler(BaseSampler):
    """Base of the samplers that work in the generator's codes (``space="latent"``) or,
    as their control without a generator, in a PCA of the inputs (``space="pca"``)."""

    @property
    def uses_latent_space(self):
        return self.space == "latent"

    def check_compatible(self, *, task, net, generator):
        _check_task(task)  # first: space='pca' is no cure for a bad task
        try:
            super().check_compatible(task=task, net=net, generator=generator)
        except ValueError as error:
            if self.space == "latent" and not generator_capabilities(generator).codes:
                raise ValueError(f"{error} Or use space='pca': a PCA of the inputs, no "
                                 "generator needed.") from None
            raise
