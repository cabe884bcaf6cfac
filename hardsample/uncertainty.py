"""The uncertainty of a skorch net: a deep ensemble or MC dropout, behind one interface.

Both are parameter objects in scikit-learn's sense (``clone``-able, validated when
fitted) that the Bayesian samplers (:mod:`hardsample.samplers.bayesian`) take as
``uncertainty=``. A sampler clones its uncertainty source every round and calls

- ``fit(net, X_labeled, y_labeled, random_state)``: :class:`DeepEnsemble` trains its
  extra members on the labeled set; :class:`MCDropout` only keeps the trained net;
- ``predict_mean_var(X)``: predictive mean and variance, for regression;
- ``predict_proba_samples(X)``: draws of class probabilities, for classification.

The training is the extra cost of these strategies: the samplers time it as the
``"uncertainty_training"`` stage of their proposal, so that it appears in the
estimators' ``history_[i]["mining_split"]`` (and in ``mining_seconds``), next to
``"judging"`` (the prediction passes over the candidates).
"""

import time
from numbers import Integral

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    validate_parameter_constraints,
)

from ._torch import seed_from, torch_seeded

#: The torch modules MC dropout switches on at prediction time.
DROPOUT_TYPES = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d,
                 torch.nn.AlphaDropout, torch.nn.FeatureAlphaDropout)


def _is_classifier_net(net):
    import skorch

    return isinstance(net, skorch.NeuralNetClassifier) or (
        not isinstance(net, skorch.NeuralNet) and callable(getattr(net, "predict_proba", None)))


def dropout_modules(module):
    """The dropout layers (with a positive rate) of a torch module."""
    return [m for m in module.modules() if isinstance(m, DROPOUT_TYPES) and m.p > 0]


def _output(net, x):
    """The net's outputs on a torch batch, after its prediction nonlinearity (softmax for
    a classifier trained with cross-entropy, the identity for a regressor)."""
    output = net.infer(x.to(net.device))
    output = output[0] if isinstance(output, tuple) else output
    return net._get_predict_nonlinearity()(output)


def _batches(X, rows, batch_size):
    """(position, rows of X) for each batch of ``batch_size`` rows."""
    n = len(X) if rows is None else len(rows)
    for i, start in enumerate(range(0, n, batch_size)):
        yield i, (X[start:start + batch_size] if rows is None
                  else X[rows[start:start + batch_size]])


def _check_probabilities(draws):
    if draws.ndim != 3 or draws.shape[2] < 2:
        raise ValueError(f"The net returned class probabilities of shape {draws.shape[1:]} per "
                         "draw; expected (n_samples, n_classes) with at least 2 classes.")
    if not np.isfinite(draws).all() or draws.min() < -1e-6 \
            or not np.allclose(draws.sum(axis=2), 1.0, atol=1e-3):
        raise ValueError("The net did not return probabilities (rows of non-negative values "
                         "summing to 1); does it end in a softmax or use cross-entropy?")
    return draws


class _BaseUncertainty(BaseEstimator):
    """Shared prediction code: subclasses produce the draws of one batch."""

    _parameter_constraints: dict = {}

    def _validate_params(self):
        params = self.get_params(deep=False)
        for name, value in params.items():
            numeric = any(isinstance(c, Interval) for c in self._parameter_constraints[name])
            if numeric and isinstance(value, (bool, np.bool_)):
                raise InvalidParameterError(f"The {name!r} parameter of {type(self).__name__} "
                                            f"must be a number, got {value!r}.")
        validate_parameter_constraints(self._parameter_constraints, params,
                                       caller_name=type(self).__name__)

    def check_net(self, net):
        """Raise a ``ValueError`` when this source cannot work with ``net`` (called before
        any label is paid for)."""
        self._validate_params()

    def _check_fitted(self):
        if not hasattr(self, "n_draws_"):
            raise ValueError(f"This {type(self).__name__} is not fitted: call fit(net, X, y, "
                             "random_state) first.")

    def draws_tensor(self, x, position=0):
        """The draws on a torch batch ``x``, as one tensor.

        Its shape is ``(n_draws, n) + output_shape``. Differentiable with respect to
        ``x`` where gradients are enabled (e.g. to ascend the predictive variance through
        a decoder); ``position`` seeds MC dropout's masks.
        """
        raise NotImplementedError

    def _draws(self, X_batch, position):
        from skorch.utils import to_tensor

        with torch.no_grad():
            draws = self.draws_tensor(to_tensor(np.asarray(X_batch), device="cpu"), position)
        return draws.detach().cpu().numpy().astype(np.float64)

    def predict_samples(self, X, rows=None):
        """Raw draws of the outputs: an ndarray of shape ``(n_draws, n_samples) + output_shape``.

        ``X`` is read ``batch_size`` rows at a time (as ``X[rows[i:i + batch_size]]``
        with ``rows``, so a pool on disk is never loaded whole).
        """
        self._check_fitted()
        parts = [self._draws(batch, i) for i, batch in _batches(X, rows, self.batch_size)]
        if not parts:
            return np.empty((self.n_draws_, 0))
        return np.concatenate(parts, axis=1)

    def predict_mean_var(self, X, rows=None):
        """Predictive mean and variance of a regression net.

        Returns
        -------
        mean : ndarray of shape (n_samples, *output_shape)
            The mean of the draws.
        var : ndarray of shape (n_samples,)
            The variance of the draws (over draws, ``ddof=0``) of each output entry,
            averaged over the entries of a sample's output: for a scalar target the
            predictive variance itself, for a map (e.g. a stress field) its mean
            per-pixel variance, on the same scale whatever the map's size.
        """
        self._check_fitted()
        if self.is_classifier_:
            raise TypeError(f"{type(self).__name__}.predict_mean_var is for regression nets; "
                            "this one is a classifier (use predict_proba_samples).")
        means, variances = [], []
        for i, batch in _batches(X, rows, self.batch_size):
            draws = self._draws(batch, i)
            means.append(draws.mean(axis=0))
            variances.append(draws.reshape(draws.shape[0], draws.shape[1], -1)
                             .var(axis=0).mean(axis=1))
        if not means:
            return np.empty((0,)), np.empty((0,))
        return np.concatenate(means), np.concatenate(variances)

    def predict_proba_samples(self, X, rows=None):
        """Draws of class probabilities: ndarray of shape (n_draws, n_samples, n_classes).

        Raises
        ------
        TypeError
            The net is not a classifier.
        ValueError
            Its outputs are not probabilities.
        """
        self._check_fitted()
        if not self.is_classifier_:
            raise TypeError(f"{type(self).__name__}.predict_proba_samples needs a classifier net "
                            "(skorch.NeuralNetClassifier); this one is a regressor (use "
                            "predict_mean_var).")
        draws = self.predict_samples(X, rows)
        if draws.shape[1] == 0:
            return draws.reshape(self.n_draws_, 0, 0)
        return _check_probabilities(draws)


def _fit_member(net, X, y, seed):
    """Train one member (in a joblib worker or in process): a fresh clone, seeded."""
    member = clone(net)
    with torch_seeded(seed, member.device):
        member.fit(X, y)
    return member


class DeepEnsemble(_BaseUncertainty):
    """A deep ensemble: ``n_members`` copies of the net trained from different seeds.

    :meth:`fit` trains clones of the run's trained net (same architecture, optimizer
    and settings; fresh weights) on the labeled set with ``net.fit``, each with its own
    torch seed drawn from the round's ``random_state``, so that the same seed gives
    the same members on CPU. With ``reuse_net=True``, member 0 is the run's trained net
    itself, so a round trains ``n_members - 1`` extra nets; this training is the
    ensemble's extra cost (timed by the samplers as ``"uncertainty_training"`` in
    ``history_[i]["mining_split"]``).

    Parameters
    ----------
    n_members : int, default=5
        Members of the ensemble (at least 2: one net has no disagreement).
    reuse_net : bool, default=True
        Use the run's trained net as member 0. Under ``retrain="continue"`` that net has
        been trained for more epochs than the fresh members; ``False`` trains all
        ``n_members`` afresh (one more training per round).
    n_jobs : int or None, default=None
        Members trained in parallel by joblib (processes; ``None``: one at a time unless
        in a ``joblib.parallel_config`` context, ``-1``: all cores). Each worker receives
        a pickled copy of the net and the labeled set; the members, and so the picks, are
        the same whatever ``n_jobs``. Keep ``None`` for a net on a GPU.
    batch_size : int, default=1024
        Samples per forward pass when predicting.

    Attributes
    ----------
    members_ : list of skorch nets
        The trained members.
    n_draws_ : int
        ``n_members``.
    fit_seconds_ : float
        Wall-clock seconds :meth:`fit` spent training.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetRegressor
    >>> from hardsample.nets import MLP
    >>> from hardsample.uncertainty import DeepEnsemble
    >>> X = np.linspace(-1, 1, 40, dtype="float32")[:, None]
    >>> y = np.sin(3 * X)
    >>> net = NeuralNetRegressor(MLP, max_epochs=5, lr=0.05, train_split=None,
    ...                          verbose=0).fit(X, y)
    >>> ensemble = DeepEnsemble(n_members=3).fit(net, X, y, random_state=0)
    >>> mean, var = ensemble.predict_mean_var(X)
    >>> mean.shape, var.shape
    ((40, 1), (40,))
    """

    _parameter_constraints = {
        "n_members": [Interval(Integral, 2, None, closed="left")],
        "reuse_net": ["boolean"],
        "n_jobs": [Integral, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_members=5, reuse_net=True, n_jobs=None, batch_size=1024):
        self.n_members = n_members
        self.reuse_net = reuse_net
        self.n_jobs = n_jobs
        self.batch_size = batch_size

    def fit(self, net, X, y, random_state):
        """Train the members on ``(X, y)`` (``y`` in the form the net is trained on).

        Parameters
        ----------
        net : skorch net
            The run's net, trained on ``(X, y)`` when ``reuse_net``; the fresh members are
            clones of it.
        X, y : ndarray
            The labeled set.
        random_state : numpy.random.RandomState or int
            Seeds the members (one draw per member).
        """
        from sklearn.utils import check_random_state

        self._validate_params()
        if self.reuse_net and not getattr(net, "initialized_", False):
            raise ValueError("DeepEnsemble(reuse_net=True) uses the given net as member 0, so "
                             "it must be trained; fit it first or set reuse_net=False.")
        random_state = check_random_state(random_state)
        n_fresh = self.n_members - 1 if self.reuse_net else self.n_members
        seeds = [seed_from(random_state) for _ in range(n_fresh)]
        start = time.perf_counter()
        fresh = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(net, X, y, seed) for seed in seeds)
        self.fit_seconds_ = time.perf_counter() - start
        self.members_ = ([net] if self.reuse_net else []) + list(fresh)
        self.is_classifier_ = _is_classifier_net(net)
        self.n_draws_ = self.n_members
        return self

    def draws_tensor(self, x, position=0):
        self._check_fitted()
        outputs = []
        for member in self.members_:
            member.module_.eval()
            outputs.append(_output(member, x).to(x.device))
        return torch.stack(outputs)


class MCDropout(_BaseUncertainty):
    """Monte Carlo dropout: the trained net with its dropout layers on when predicting.

    Every prediction runs the net ``n_samples`` times with the rest of the module in
    evaluation mode (batch norm uses its running statistics) and only the dropout
    layers in training mode, without gradients (Gal & Ghahramani 2016). The dropout
    masks are drawn from a torch seed taken from the ``random_state`` given to
    :meth:`fit`, so the same seed gives the same draws. No net is trained: its extra
    cost is the ``n_samples`` forward passes (the samplers' ``"judging"`` stage).

    The net needs dropout layers (``torch.nn.Dropout`` and its 1-3d, alpha variants)
    with a positive rate, e.g. :class:`~hardsample.nets.MLP` with ``dropout=0.2``
    (``module__dropout=0.2``); otherwise :meth:`check_net` and :meth:`fit` raise a
    ``ValueError``.

    Parameters
    ----------
    n_samples : int, default=20
        Stochastic forward passes per prediction (at least 2).
    batch_size : int, default=1024
        Samples per forward pass.

    Attributes
    ----------
    net_ : skorch net
        The trained net (not copied).
    n_draws_ : int
        ``n_samples``.
    fit_seconds_ : float
        0.0: nothing is trained.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from hardsample.nets import MLP
    >>> from hardsample.uncertainty import MCDropout
    >>> X = np.random.RandomState(0).rand(30, 4).astype("float32")
    >>> y = (X[:, 0] > 0.5).astype("int64")
    >>> net = NeuralNetClassifier(MLP, module__n_classes=2, module__dropout=0.3,
    ...                           criterion=torch.nn.CrossEntropyLoss, max_epochs=2,
    ...                           train_split=None, verbose=0).fit(X, y)
    >>> MCDropout(n_samples=8).fit(net, X, y, 0).predict_proba_samples(X).shape
    (8, 30, 2)
    """

    _parameter_constraints = {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_samples=20, batch_size=1024):
        self.n_samples = n_samples
        self.batch_size = batch_size

    def check_net(self, net):
        """Raise a ``ValueError`` when ``net``'s module has no dropout layer.

        An unfitted net is looked at through an initialized clone; a module that cannot
        be initialized before training (e.g. one that needs ``module__n_classes`` set
        from the labels) is checked when :meth:`fit` is called instead.
        """
        super().check_net(net)
        module = getattr(net, "module_", None)
        if module is None:
            try:
                module = clone(net).initialize().module_
            except Exception:  # noqa: BLE001 - the check at fit time remains
                return
        self._check_module(module)

    def _check_module(self, module):
        if not dropout_modules(module):
            raise ValueError(
                f"MCDropout needs a net with dropout layers, but {type(module).__name__} has "
                "none with a positive rate: add dropout (e.g. MLP with module__dropout=0.2) or "
                "use uncertainty=DeepEnsemble()."
            )

    def fit(self, net, X=None, y=None, random_state=None):
        """Keep the trained ``net`` and draw the seed of the dropout masks.

        ``X`` and ``y`` are accepted for the common interface and not used.
        """
        from sklearn.utils import check_random_state

        self._validate_params()
        if not getattr(net, "initialized_", False):
            raise ValueError("MCDropout predicts with the trained net: fit the net first.")
        self._check_module(net.module_)
        self.seed_ = seed_from(check_random_state(random_state))
        self.net_ = net
        self.is_classifier_ = _is_classifier_net(net)
        self.n_draws_ = self.n_samples
        self.fit_seconds_ = 0.0
        return self

    def draws_tensor(self, x, position=0):
        self._check_fitted()
        module = self.net_.module_
        modes = {m: m.training for m in module.modules()}
        # One seed per batch position: predicting the same rows twice gives the same draws.
        seed = self.seed_ + position
        try:
            module.eval()
            for layer in dropout_modules(module):
                layer.train()
            with torch_seeded(seed, self.net_.device):
                return torch.stack([_output(self.net_, x).to(x.device)
                                    for _ in range(self.n_samples)])
        finally:
            for m, training in modes.items():
                m.train(training)


__all__ = ["DeepEnsemble", "MCDropout"]
