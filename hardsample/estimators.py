"""LatentHardMiningClassifier and LatentHardMiningRegressor: the scikit-learn surface.

The meta-estimators validate their parameters and input, set up a run (stage 1: fit
the generator on the unlabeled pool and encode it once) and hand each round to
:func:`hardsample._loop.run_round`. The labeled set lives in the run's
:class:`~hardsample._ledger.LabelLedger`; what a label is, in the target codec
(:mod:`hardsample._targets`), the only difference between the two estimators.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import skorch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import r2_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._ledger import LabelLedger
from ._loop import MiningRun, run_round
from ._pool import as_pool
from ._targets import ClassTargets, RegressionTargets
from ._timing import Stopwatch
from ._torch import seed_from
from ._validation import check_samples, fingerprint, resolve_size
from .callbacks import ProgressBar, notify
from .exceptions import LabelsPending
from .neighbors import LatentIndex
from .oracles import DatasetOracle, check_oracle
from .samplers import SAMPLERS, compatible_samplers

#: Rows of a lazy pool an unfitted generator is fitted on (a uniform sample beyond that).
GENERATOR_FIT_MAX_SAMPLES = 100_000

#: Estimator parameters forwarded to the sampler when set (None: the sampler's own).
SAMPLER_SHORTCUTS = ("step_size", "n_anchors")

_SIZE = [Interval(Integral, 1, None, closed="left"), Interval(RealNotInt, 0, 1, closed="neither")]


def _generator_fit_samples(pool, seed):
    """What an unfitted generator is fitted on: the whole pool in memory, or a uniform
    sample of at most :data:`GENERATOR_FIT_MAX_SAMPLES` rows of a lazy (on-disk) pool."""
    if not pool.lazy:
        return pool.samples
    n = len(pool)
    if n <= GENERATOR_FIT_MAX_SAMPLES:
        return pool.take(np.arange(n))
    rows = np.random.RandomState(seed).choice(n, size=GENERATOR_FIT_MAX_SAMPLES, replace=False)
    return pool.take(np.sort(rows))


def _fresh_sampler(spec):
    """A new sampler from a registered name, or a clone of a sampler object."""
    return SAMPLERS[spec]() if isinstance(spec, str) else clone(spec, safe=False)


def _check_sampler_params(sampler):
    """Validate a sampler's parameters (samplers without ``_validate_params`` pass)."""
    if callable(getattr(sampler, "_validate_params", None)):
        sampler._validate_params()


def _fitted(read, doc):
    """A fitted attribute read from the estimator's run; absent before ``fit``."""

    def getter(estimator):
        run = estimator.__dict__.get("_run")
        if run is None:
            raise AttributeError(f"{type(estimator).__name__} is not fitted yet.")
        return read(run)

    return property(getter, doc=doc)


class _BaseLatentHardMining(BaseEstimator):
    """Shared surface of the classifier and the regressor (not for direct use)."""

    _net_type = skorch.NeuralNet
    _codec_type = None

    _parameter_constraints = {
        "net": "no_validation",  # checked by _check_net, with a skorch-specific message
        "generator": [None, HasMethods(["fit", "transform"])],
        "sampler": [StrOptions(set(SAMPLERS)), HasMethods(["propose"])],
        "initial": [StrOptions(set(SAMPLERS) | {"labeled"}), HasMethods(["propose"])],
        "initial_size": _SIZE,
        "round_size": _SIZE,
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "step_size": [None, Interval(Real, 0, np.inf, closed="neither"), StrOptions({"auto"})],
        "n_anchors": [None, Interval(Integral, 1, None, closed="left")],
        "retrain": [StrOptions({"continue", "scratch"})],
        "callbacks": [None, list],
        "stop_when": [None, callable],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        net,
        generator=None,
        sampler=None,  # each estimator's own __init__ sets its default
        *,
        initial="random",
        initial_size=100,
        round_size=100,
        n_rounds=10,
        step_size=None,
        n_anchors=None,
        retrain="continue",
        callbacks=None,
        stop_when=None,
        random_state=None,
        verbose=0,
    ):
        self.net = net
        self.generator = generator
        self.sampler = sampler
        self.initial = initial
        self.initial_size = initial_size
        self.round_size = round_size
        self.n_rounds = n_rounds
        self.step_size = step_size
        self.n_anchors = n_anchors
        self.retrain = retrain
        self.callbacks = callbacks
        self.stop_when = stop_when
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ public API
    def fit(self, X, y=None, *, oracle=None, classes=None):
        """Run ``n_rounds`` rounds of mining, labeling and training.

        Round 1 labels ``initial_size`` pool samples (chosen by ``initial``, uniformly
        at random by default); each later round adds
        ``round_size`` samples chosen by the sampler, so
        ``initial_size + (n_rounds - 1) * round_size`` labels are paid for in all
        (fewer when ``stop_when`` ends the run early, or when a batch waits for
        labels: ``fit`` then stops at it, see :meth:`partial_fit`).

        Parameters
        ----------
        X : array-like, numpy.memmap, dask array or Pool of shape (n_pool, ...)
            The unlabeled pool (any sample shape the net accepts). An ndarray is
            validated and converted to float32 once; a memmap, a dask array or a
            :class:`~hardsample.Pool` (e.g. ``Pool(uint8_memmap, transform=scale)``)
            stays where it is and is read in batches: only the latent codes and the
            samples being judged, trained on or labeled live in memory, and an
            unfitted generator is fitted on a uniform sample of at most 100,000 rows.
        y : array-like of shape (n_pool, ...), default=None
            The pool's hidden labels. ``y`` is checked as a whole (length, label
            type, classes) before round 1, but only the labels of queried samples
            reach training and selection, and none of ``y`` is kept by the fitted
            estimator. The one exception: a classifier given neither ``classes=``
            nor a net with ``classes`` takes its classes from ``y``. ``-1``
            (classifier) or ``NaN`` (regressor) marks a sample not labeled yet: a
            round that asks for one stops before training and ``fit`` returns with
            ``pending_`` set and a :class:`~hardsample.LabelsPending` warning (see
            :meth:`partial_fit`).
        oracle : callable or oracle object, default=None
            A labeling tool ``oracle(X_batch) -> y_batch``, instead of ``y``.
        classes : array-like, default=None
            All class labels (classifier); with ``oracle``, needed unless the net
            has ``classes``.

        Returns
        -------
        self
        """
        self._validate_params()
        self.__dict__.pop("_run", None)  # fit starts a new run
        X, oracle, known = self._start(X, y, oracle, classes, n_planned_rounds=self.n_rounds)
        callbacks = self._callbacks()
        notify(callbacks, "on_fit_begin", self)
        for _ in range(self.n_rounds):
            record = self._round(X, oracle, callbacks, known)
            if record is None:
                break  # the round waits for labels
            if self._should_stop(record):
                break
        notify(callbacks, "on_fit_end", self)
        self._warn_pending(tool=known is None)
        return self

    def partial_fit(self, X, y=None, *, oracle=None, classes=None):
        """Run one round; with labels from people, train once and ask for the next batch.

        The first call labels ``initial_size`` samples (chosen by ``initial``) and
        trains the net;
        each later call mines ``round_size`` new samples, labels them and trains
        (continuing or from scratch, see ``retrain``). ``X`` must be the same pool
        at every call; a labeling tool passed as ``oracle`` is kept between calls.
        With hidden labels, pass ``y`` again at every call (the estimator keeps
        none of it).

        **Labeling with people.** ``-1`` in ``y`` (classes) or ``NaN`` (targets)
        means "not labeled yet", as in scikit-learn's semi-supervised estimators.
        When requested samples are not labeled yet, the call stops before training:
        ``pending_`` holds their pool indices (the same ones in a re-run with the
        same ``random_state``) and a :class:`~hardsample.LabelsPending` warning says
        how many; nothing is counted as failed or paid twice. Write their labels
        into ``y`` (all or some, plus any other samples you chose) and call
        ``partial_fit(X, y)`` again: it takes every label of ``y`` the run does not
        hold yet (``history_[-1]["n_chosen"]`` of them outside the request), trains
        once, asks for the next batch and stops at it. Earlier rounds are never
        retrained. Requested samples still unlabeled stay pending: the round trains
        on what came (``history_[-1]["n_pending"]`` left) and the next request
        proposes only the shortfall. A call that brings no new label changes
        nothing. A labeling tool that answers "not yet"
        (:class:`~hardsample.oracles.NotLabeledYet` or
        :data:`~hardsample.oracles.PENDING`) pauses the run the same way; the next
        ``partial_fit(X)`` asks it again for the pending samples only.

        **Between sittings.** Save the estimator with ``joblib.dump(est, path)`` and
        load it with ``joblib.load(path)`` in the next process: the run (its random
        state, labels and pending request) is pickled with it. A process killed
        after a request loses nothing: load the last dump, pass the same ``y`` and
        the run resumes at the same pending batch.

        **Stopping.** After each trained round ``stop_when(self, record)`` is asked;
        when it says stop, ``stopped_`` becomes True, no further batch is requested,
        and later calls return at once with a warning while ``stop_when`` still says
        so (set ``stop_when=None`` to go on). A loop ``while not est.stopped_:
        est.partial_fit(X, y)`` therefore ends.

        Parameters
        ----------
        X : array-like, memmap, dask array or Pool of shape (n_pool, ...)
            The unlabeled pool, the same at every call.
        y : array-like of shape (n_pool, ...), default=None
            The pool's labels, with -1 (classes) or NaN (targets) where not labeled yet.
        oracle : callable or oracle object, default=None
            A labeling tool, instead of ``y`` (kept between calls).
        classes : array-like, default=None
            All class labels (classifier), needed on the first call when ``y``
            labels fewer than two classes and the net has no ``classes``.

        Returns
        -------
        self
        """
        if not hasattr(self, "_run"):
            self._validate_params()
            X, oracle, known = self._start(X, y, oracle, classes, n_planned_rounds=1)
        else:
            X, oracle, known = self._continue(X, y, oracle, classes)
        run = self._run
        if run.stopped:
            if self.stop_when is not None:
                warnings.warn(
                    f"{type(self).__name__}: stop_when said stop after round "
                    f"{run.n_rounds_done} (stopped_ is True); partial_fit did nothing. Set "
                    "stop_when=None to go on, or call fit to start a new run.", UserWarning,
                    stacklevel=2)
                return self
            run.stopped = False
        waited = run.ledger.request is not None
        callbacks = self._callbacks(progress=False)  # a bar over one round tells nothing
        notify(callbacks, "on_fit_begin", self)
        record = self._round(X, oracle, callbacks, known)
        with_people = waited or (known is not None and not known.all())
        if record is not None and not self._should_stop(record) and with_people:
            # Ask for the next batch now, so that people can label it before the next call.
            self._round(X, oracle, callbacks, known, may_train=False)
        notify(callbacks, "on_fit_end", self)
        self._warn_pending(tool=known is None)
        return self

    def _round(self, X, oracle, callbacks, known=None, may_train=True):
        run = self._run
        request = run.ledger.request
        number = run.n_rounds_done + 1 if request is None else request.round
        notify(callbacks, "on_round_begin", self, round_number=number)
        record = run_round(run, X, oracle, known=known, may_train=may_train)
        if record is not None:
            notify(callbacks, "on_round_end", self, record=record)
        return record

    def _should_stop(self, record):
        if self.stop_when is not None and self.stop_when(self, record):
            self._run.stopped = True
        return self._run.stopped

    def _warn_pending(self, tool):
        n = len(self._run.ledger.pending)
        if not n:
            return
        todo = ("let the labeling tool answer and call partial_fit(X) again" if tool else
                "write their labels into y (-1 for classes, NaN for targets marks 'not labeled "
                "yet') and call partial_fit(X, y) again")
        warnings.warn(
            f"{n} requested sample{'s' if n != 1 else ''} await{'' if n != 1 else 's'} labels "
            f"(their pool indices are in pending_): {todo}. Save the estimator with "
            "joblib.dump between sittings.", LabelsPending, stacklevel=3)

    # ------------------------------------------------------------ set-up checks
    def _check_net(self):
        if not isinstance(self.net, self._net_type):
            raise TypeError(
                f"net must be a skorch {self._net_type.__name__} (e.g. "
                f"skorch.{self._net_type.__name__}(module, ...)), got {type(self.net).__name__}."
            )

    def _make_sampler(self):
        """A fresh sampler with the estimator's shortcuts applied and its parameters checked."""
        sampler = _fresh_sampler(self.sampler)
        shortcuts = {name: getattr(self, name) for name in SAMPLER_SHORTCUTS
                     if getattr(self, name) is not None}
        if shortcuts:
            accepted = sampler.get_params() if hasattr(sampler, "get_params") else {}
            unknown = sorted(set(shortcuts) - set(accepted))
            if unknown:
                raise ValueError(
                    f"{', '.join(unknown)} set on the estimator, but the sampler "
                    f"{type(sampler).__name__} has no such parameter; unset it (None), or "
                    "choose a sampler that has it (e.g. sampler=NearestNeighborSampler("
                    "step_size=...), or sampler__step_size in a grid search)."
                )
            sampler.set_params(**shortcuts)
        _check_sampler_params(sampler)
        return sampler

    def _make_initial_sampler(self):
        """The sampler of round 1, checked; None for uniform random labels or the labels in hand."""
        if isinstance(self.initial, str) and self.initial in ("random", "labeled"):
            return None
        initial = _fresh_sampler(self.initial)
        _check_sampler_params(initial)
        if getattr(initial, "needs_net", True):
            raise ValueError(
                f"initial={self.initial!r} needs a trained net to choose samples, and round 1 "
                "has none: choose a sampler that does not, e.g. initial='typiclust' "
                "(RepresentativeSampler) or 'random'."
            )
        return initial

    def _check_compatible(self, sampler, initial, oracle):
        """Sampler x net x generator x oracle, checked before any label is paid for."""
        task = "classification" if is_classifier(self) else "regression"
        for role, spec, chosen in (("sampler", self.sampler, sampler),
                                   ("initial", self.initial, initial)):
            if not callable(getattr(chosen, "check_compatible", None)):
                continue  # uniform round 1, or a sampler object without the declaration
            try:
                chosen.check_compatible(task=task, net=self.net, generator=self.generator)
            except (TypeError, ValueError) as error:
                tool = getattr(oracle, "can_label_synthetic", False)
                usable = [name for name in compatible_samplers(
                    task=task, net=self.net, generator=self.generator)
                    if (role == "sampler" or not SAMPLERS[name]().needs_net)
                    and (tool or not SAMPLERS[name]().synthesizes)]
                where = f"{role}={spec!r}" if isinstance(spec, str) else role
                raise type(error)(
                    f"{where}: {error} With this net and generator, {role}= can be: "
                    f"{', '.join(map(repr, usable)) or 'none of the registered samplers'}."
                ) from error
            if chosen.synthesizes and not getattr(oracle, "can_label_synthetic", False):
                raise TypeError(
                    f"{role}={spec!r} proposes synthetic samples, which only a labeling tool "
                    "can label: pass oracle=<callable> instead of y, or choose a pool sampler."
                )

    def _callbacks(self, progress=True):
        callbacks = list(self.callbacks or [])
        if progress and self.verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
            callbacks.append(ProgressBar())
        return callbacks

    def _resolve_oracle(self, y, oracle, n_pool, codec, classes):
        """The oracle of this call (hidden labels are wrapped, never stored) and where
        ``y`` holds a label (None for a labeling tool)."""
        oracle = check_oracle(y, oracle)
        if oracle is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None: "
                "pass the pool's hidden labels as y, or a labeling tool as oracle=."
            )
        net_classes = getattr(self.net, "classes", None)
        if y is not None:
            y = codec.check_hidden_labels(y, n_pool, classes, net_classes)
            return self._oracle_of(y, codec)
        if isinstance(oracle, DatasetOracle):
            markers = getattr(oracle, "missing", None) is not None
            y = codec.check_hidden_labels(oracle.y, n_pool, classes, net_classes,
                                          markers=markers)
            known = ~codec.unlabeled_mask(y) if markers else np.ones(n_pool, dtype=bool)
            return oracle, known
        codec.set_up_for_tool(classes, net_classes)
        return oracle, None

    @staticmethod
    def _oracle_of(y, codec):
        """A DatasetOracle over checked labels ``y``, and where ``y`` holds a label."""
        unlabeled = codec.unlabeled_mask(y)
        # A y without "not labeled yet" entries is a benchmark's hidden labels, as before.
        missing = codec.missing_label if unlabeled.any() else None
        return DatasetOracle(y, missing=missing), ~unlabeled

    def _start(self, X, y, oracle, classes, n_planned_rounds):
        self._check_net()
        pool = as_pool(X)
        n_pool = len(pool)
        codec = self._codec_type()
        oracle, known = self._resolve_oracle(y, oracle, n_pool, codec, classes)
        sampler = self._make_sampler()
        initial = self._make_initial_sampler()
        self._check_compatible(sampler, initial, oracle)
        uses_latent_space = sampler.uses_latent_space or (
            initial is not None and initial.uses_latent_space)
        from_labels = isinstance(self.initial, str) and self.initial == "labeled"
        if from_labels:
            initial_size = self._labels_in_hand(known)
        else:
            initial_size = resolve_size(self.initial_size, n_pool, "initial_size")
        round_size = resolve_size(self.round_size, n_pool, "round_size")
        budget = initial_size + (n_planned_rounds - 1) * round_size
        if not sampler.synthesizes and budget > n_pool:
            raise ValueError(
                f"The labeling budget ({budget} labels: initial_size={initial_size} + "
                f"{n_planned_rounds - 1} rounds x round_size={round_size}) is larger "
                f"than the pool ({n_pool} sample{'s' if n_pool != 1 else ''})."
            )
        if pool.lazy and not uses_latent_space:
            pool.validate()  # bad rows fail now, not after labels are paid for
        rng = check_random_state(self.random_state)
        generator, codes, index, setup_seconds = self._fit_generator(
            pool, sampler, uses_latent_space, seed_from(rng))
        self.n_features_in_ = int(np.prod(pool.sample_shape))
        self.sample_shape_ = tuple(pool.sample_shape)
        ledger = LabelLedger(n_pool, self.sample_shape_, codec, latent_codes=codes,
                             encoder=None if generator is None else generator.transform)
        self._run = MiningRun(
            sampler=sampler, initial_sampler=initial, codec=codec, ledger=ledger,
            net_template=self.net, retrain=self.retrain, initial_size=initial_size,
            round_size=round_size, rng=rng, initial_from_labels=from_labels,
            generator=generator, latent_index=index, setup_seconds=setup_seconds,
            tool_oracle=None if isinstance(oracle, DatasetOracle) else oracle,
            # encode or validate (lazy pools) hashed the rows just now, as they read them
            pool_fingerprint=pool.fingerprint(reuse_last_pass=True),
            # Labels written in by people change y between calls; hidden labels do not.
            labels_fingerprint=None if y is None or not known.all()
            else fingerprint(np.asarray(y)),
        )
        return pool.samples, oracle, known

    def _labels_in_hand(self, known):
        """Round 1's size with initial="labeled": the samples ``y`` labels (checked)."""
        if known is None:
            raise ValueError(
                "initial='labeled' starts from the labels in y, but labels come from a "
                "labeling tool: pass y (with -1, or NaN for targets, where not labeled yet), "
                "or choose another initial."
            )
        n_known = int(known.sum())
        if n_known == 0:
            raise ValueError(
                "initial='labeled' starts from the labels in y, but y labels no sample (all "
                "entries are -1, or NaN for targets): label some samples, or use "
                "initial='random' to have round 1 chosen for you."
            )
        return n_known

    def _continue(self, X, y, oracle, classes=None):
        """Check that a later ``partial_fit`` call gets the same pool; its oracle and
        where ``y`` holds a label."""
        run = self._run
        pool = as_pool(X)
        self._check_sample_shape(pool)
        change = pool.fingerprint().change_from(run.pool_fingerprint)
        if change is None and y is not None and run.labels_fingerprint is not None \
                and fingerprint(np.asarray(y)) != run.labels_fingerprint:
            change = "y holds other labels, or the same labels in another order"
        if change is not None:
            raise ValueError(
                f"The pool changed between partial_fit calls: {change}. X (and y) must be "
                "the same samples in the same order at every call; call fit or use a fresh "
                "estimator for a new pool."
            )
        codec = run.codec
        if classes is not None and hasattr(codec, "classes_") and not np.array_equal(
                np.unique(np.asarray(classes)), codec.classes_):
            raise ValueError(f"classes={list(classes)!r} differ from the run's classes_ "
                             f"{codec.classes_.tolist()}; the classes are fixed by the first call.")
        if y is not None:
            if oracle is not None:
                raise ValueError("Pass either y (the pool's hidden labels) or oracle, not both.")
            if run.labels_fingerprint is not None:
                return pool.samples, DatasetOracle(y), np.ones(len(pool), dtype=bool)
            oracle, known = self._oracle_of(codec.check_more_labels(y, len(pool)), codec)
            return pool.samples, oracle, known
        oracle = check_oracle(None, oracle) or run.tool_oracle
        if oracle is None:
            raise ValueError(
                "partial_fit needs the pool's hidden labels again (y=...): the estimator keeps "
                "none of them between calls. Only a labeling tool (oracle=) is kept."
            )
        if not isinstance(oracle, DatasetOracle):
            run.tool_oracle = oracle
            return pool.samples, oracle, None
        if getattr(oracle, "missing", None) is None:
            return pool.samples, oracle, np.ones(len(pool), dtype=bool)
        # Labels written into the oracle's y since the last call: checked like y= is,
        # before any is paid for.
        known = ~codec.unlabeled_mask(codec.check_more_labels(np.asarray(oracle.y), len(pool)))
        return pool.samples, oracle, known

    def _fit_generator(self, pool, sampler, uses_latent_space, seed):
        """Stage 1: the fitted generator, the pool's codes and their index (or Nones)."""
        watch = Stopwatch()
        if not uses_latent_space:
            return None, None, None, watch.seconds
        if self.generator is None:
            who = (f"sampler={self.sampler!r}" if sampler.uses_latent_space
                   else f"initial={self.initial!r}")
            raise ValueError(
                f"{who} works in a latent space: pass a generator "
                "(e.g. hardsample.generators.VAETransformer())."
            )
        if isinstance(self.generator, FrozenEstimator):
            generator = self.generator.estimator
        else:
            generator = clone(self.generator)
            if "random_state" in generator.get_params() and generator.random_state is None:
                generator.set_params(random_state=seed)
            with watch("generator_fit"):
                generator.fit(_generator_fit_samples(pool, seed))
        with watch("encoding"):
            codes = pool.encode(generator)
        with watch("index"):
            index = LatentIndex(
                method=getattr(sampler, "index", "auto"),
                device=getattr(generator, "device", "cpu") or "cpu",
                random_state=seed,
            ).fit(codes)
        return generator, codes, index, watch.seconds

    def _mining_state(self, X):
        """The state the sampler would see next on pool ``X`` (for diagnostics)."""
        run = self._run
        return run.ledger.mining_state(X, run.net, run.generator, run.latent_index)

    # -------------------------------------------------------------- prediction
    def _check_X_predict(self, X):
        check_is_fitted(self)
        return self._check_sample_shape(check_samples(X, ensure_min_samples=1))

    def _check_sample_shape(self, X):
        if tuple(X.shape[1:]) != self.sample_shape_:
            if len(X.shape) == 2 and len(self.sample_shape_) == 1:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            raise ValueError(
                f"X has sample shape {tuple(X.shape[1:])}, but {type(self).__name__} was "
                f"fitted on samples of shape {self.sample_shape_}."
            )
        return X

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_run") and self._run.n_rounds_done > 0

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------- fitted attributes (views)
    net_ = _fitted(lambda run: run.net, "The trained net.")
    generator_ = _fitted(lambda run: run.generator, "The fitted generator, or None.")
    sampler_ = _fitted(lambda run: run.sampler, "The sampler used (a configured copy).")
    initial_sampler_ = _fitted(lambda run: run.initial_sampler,
                               "Round 1's sampler (a checked copy), or None: random.")
    latent_codes_ = _fitted(lambda run: run.ledger.latent_codes, "The pool's latent codes.")
    latent_index_ = _fitted(lambda run: run.latent_index, "The index over ``latent_codes_``.")
    labeled_indices_ = _fitted(lambda run: run.ledger.indices,
                               "Pool indices in the order they were labeled.")
    X_synthetic_ = _fitted(lambda run: run.ledger.X_synthetic,
                           "Synthetic inputs as labeled (empty for pool samplers).")
    history_ = _fitted(lambda run: run.ledger.records, "One RoundRecord per round.")
    n_oracle_calls_ = _fitted(lambda run: run.ledger.n_oracle_calls,
                              "Samples sent to the oracle.")
    failed_labels_ = _fitted(lambda run: run.ledger.failures,
                             "Samples whose labeling failed: round, pool index, error.")
    setup_seconds_ = _fitted(lambda run: run.setup_seconds,
                             "Seconds spent once per fit before round 1.")
    y_labeled_ = _fitted(lambda run: run.codec.decode(run.ledger.targets_real),
                         "Labels of ``labeled_indices_``, in the same order.")
    pending_ = _fitted(lambda run: run.ledger.pending,
                       "Pool indices requested and awaiting labels, in request order.")
    stopped_ = _fitted(lambda run: run.stopped, "Whether stop_when ended the run.")


class LatentHardMiningClassifier(ClassifierMixin, _BaseLatentHardMining):
    """Train a classifier on labels mined in a generative model's latent space.

    Stage 1 fits ``generator`` on the unlabeled pool (unless it is a fitted
    ``FrozenEstimator``) and encodes the pool once. Stage 2 runs ``n_rounds``
    rounds: round 1 labels ``initial_size`` pool samples chosen by ``initial``
    (uniformly at random by default); each later round asks ``sampler`` for
    ``round_size`` samples, has the oracle label them and trains ``net`` on
    everything labeled so far.

    {parameters}
    Attributes
    ----------
    net_ : skorch.NeuralNetClassifier
        The trained net.
    classes_ : ndarray
        The class labels (from ``classes=``, the net's ``classes``, or ``y``).
    {attributes}
    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn.datasets import load_digits
    >>> from hardsample import LatentHardMiningClassifier
    >>> from hardsample.nets import MLP
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16.0).astype("float32")
    >>> net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss,
    ...                           optimizer=torch.optim.Adam, lr=1e-2,
    ...                           max_epochs=10, verbose=0)
    >>> clf = LatentHardMiningClassifier(net, initial_size=50, round_size=50,
    ...                                  n_rounds=3, random_state=0).fit(X, y)
    >>> len(clf.labeled_indices_)
    150
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _net_type = skorch.NeuralNetClassifier
    _codec_type = ClassTargets

    def __init__(
        self,
        net,
        generator=None,
        sampler="subsampled-margin",
        *,
        initial="random",
        initial_size=100,
        round_size=100,
        n_rounds=10,
        step_size=None,
        n_anchors=None,
        retrain="continue",
        callbacks=None,
        stop_when=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            net, generator, sampler, initial=initial, initial_size=initial_size,
            round_size=round_size, n_rounds=n_rounds, step_size=step_size,
            n_anchors=n_anchors, retrain=retrain, callbacks=callbacks,
            stop_when=stop_when, random_state=random_state, verbose=verbose,
        )

    classes_ = _fitted(lambda run: run.codec.classes_, "The class labels.")

    def predict_proba(self, X):
        """Class probabilities from the trained net, columns ordered as ``classes_``."""
        X = self._check_X_predict(X)
        return self.net_.predict_proba(X)

    def predict(self, X):
        """Predicted class labels."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]


class LatentHardMiningRegressor(RegressorMixin, _BaseLatentHardMining):
    """Train a regressor on labels mined in a generative model's latent space.

    Same round loop as :class:`LatentHardMiningClassifier`; the net is a
    ``skorch.NeuralNetRegressor`` and targets may have any shape (e.g. a stress map
    per input image). With a labeling tool as ``oracle``, samplers that synthesize
    samples (``sampler="interpolation"`` or ``"prior"``) can be used.

    {parameters}
    Attributes
    ----------
    net_ : skorch.NeuralNetRegressor
        The trained net.
    target_shape_ : tuple
        Shape of one target.
    X_synthetic_, y_synthetic_ : ndarray
        Synthesized training samples as the oracle labeled them (a labeling tool may
        return a cleaned version of what it was sent) and their targets; empty for
        pool samplers.
    {attributes}
    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetRegressor
    >>> from hardsample import LatentHardMiningRegressor
    >>> from hardsample.generators import PCAGenerator
    >>> from hardsample.nets import MLP
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(300, 5).astype("float32")
    >>> y = X @ np.arange(5, dtype="float32")
    >>> net = NeuralNetRegressor(MLP, module__n_outputs=1, optimizer=torch.optim.Adam,
    ...                          lr=1e-2, max_epochs=20, verbose=0)
    >>> reg = LatentHardMiningRegressor(net, PCAGenerator(2), initial_size=30,
    ...                                 round_size=30, n_rounds=3, random_state=0)
    >>> reg.fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _net_type = skorch.NeuralNetRegressor
    _codec_type = RegressionTargets

    def __init__(
        self,
        net,
        generator=None,
        sampler="random",
        *,
        initial="random",
        initial_size=100,
        round_size=100,
        n_rounds=10,
        step_size=None,
        n_anchors=None,
        retrain="continue",
        callbacks=None,
        stop_when=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            net, generator, sampler, initial=initial, initial_size=initial_size,
            round_size=round_size, n_rounds=n_rounds, step_size=step_size,
            n_anchors=n_anchors, retrain=retrain, callbacks=callbacks,
            stop_when=stop_when, random_state=random_state, verbose=verbose,
        )

    target_shape_ = _fitted(lambda run: run.codec.target_shape, "Shape of one target.")
    y_synthetic_ = _fitted(lambda run: run.ledger.synthetic_targets(),
                           "Targets of ``X_synthetic_``.")
    y_labeled_ = _fitted(lambda run: run.ledger.real_targets(),
                         "Targets of ``labeled_indices_``, in the same order.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X):
        """Predicted targets, shaped like the labels (``(n,)`` for scalar targets)."""
        X = self._check_X_predict(X)
        y_pred = self.net_.predict(X).astype(np.float64)
        return y_pred.reshape((len(X), *self.target_shape_))

    def score(self, X, y, sample_weight=None):
        """R² of the predictions, over all target entries (flattened per sample)."""
        y_pred = self.predict(X)
        y = np.asarray(y, dtype=np.float32)
        if y.ndim <= 1:
            return r2_score(y, y_pred, sample_weight=sample_weight)
        return r2_score(y.reshape(len(y), -1), y_pred.reshape(len(y), -1),
                        sample_weight=sample_weight)


def _document(estimator, net_type, size_argument, sampler_why):
    """Fill the shared Parameters and Attributes sections into a class docstring."""
    default = repr(estimator.__init__.__defaults__[1]).replace("'", '"')
    parameters = (_PARAMETERS.replace("NET_TYPE", net_type).replace("SIZE_ARG", size_argument)
                  .replace("SAMPLER_DEFAULT", default).replace("SAMPLER_WHY\n", sampler_why))
    estimator.__doc__ = estimator.__doc__.replace("    {parameters}\n", parameters) \
        .replace("    {attributes}\n", _ATTRIBUTES)


_PARAMETERS = """\
    Parameters
    ----------
    net : NET_TYPE
        The target net (cloned, never mutated). Unless set otherwise, its clone
        trains on every label (skorch's default 5-fold validation split is turned
        off), shuffles batches, and when its module takes a ``SIZE_ARG`` argument
        that is not set, gets it from the targets.
    generator : transformer with a differentiable ``decoder_``, default=None
        E.g. :class:`~hardsample.generators.VAETransformer`; unfitted (fitted on
        ``X`` inside ``fit``) or fitted and wrapped in
        :class:`sklearn.frozen.FrozenEstimator`. Only needed by samplers that mine
        in the latent space; an encoder only (any transformer with ``fit`` and
        ``transform``, e.g. a pretrained feature extractor) serves those that need
        codes but no decoder (``"coreset"``, ``"typiclust"``, ``"cluster-margin"``).
        What the sampler needs is checked before any label is paid for
        (:meth:`~hardsample.samplers.BaseSampler.check_compatible`).
    sampler : str or sampler object, default=SAMPLER_DEFAULT
        What to label next: a registered name (below) or any object with
        ``propose(state, n, random_state)``; a
        :class:`~hardsample.samplers.BaseSampler` is cloned, so ``sampler__<param>``
        works in grid searches. Names: ``"random"`` (the baseline), ``"nearest"``
        (the paper's SNN), ``"latent-margin"`` and ``"latent-entropy"`` (latent
        steps whose real neighbours the net judges), ``"entropy"``, ``"margin"``,
        ``"coreset"`` (classic active learning), ``"subsampled-margin"`` and
        ``"subsampled-entropy"`` (the criterion over a uniform subset: the same-cost
        controls of the latent samplers), ``"cluster-margin"`` (the lowest-margin
        candidates spread over k-means clusters), ``"typiclust"`` (the most typical
        sample of each uncovered k-means cluster of the codes), and, for a labeling tool,
        ``"interpolation"`` (the paper's SI) and ``"prior"`` (random synthetic).
        Regression only: ``"variance"`` (the predictive variance of a deep ensemble
        or MC dropout, :class:`~hardsample.samplers.VarianceSampler`) with its
        control ``"subsampled-variance"``, and ``"igs"`` (improved greedy sampling,
        diverse in inputs and predicted targets; its control is ``"random"``).
        Classification only: ``"bald"`` and ``"power-bald"`` (BALD from a deep
        ensemble or MC dropout; PowerBALD draws the batch ``∝ BALD``) with the
        control ``"subsampled-bald"``. The ensemble's extra training appears as
        ``"uncertainty_training"`` in ``history_[i]["mining_split"]``. For a
        labeling tool in regression, ``InterpolationSampler(objective="variance")``
        climbs the ensemble's variance from the anchors' codes (no label needed);
        ``"screened-prior"`` is its same-cost control (prior draws screened by the
        same variance).
SAMPLER_WHY
    initial : str or sampler object, default="random"
        How round 1 chooses its labels, before any net is trained: ``"random"``
        (uniformly, as in the paper; every strategy given the same seed starts from
        the same labels), ``"typiclust"`` (the most typical sample of each k-means
        cluster of the latent codes,
        :class:`~hardsample.samplers.RepresentativeSampler`), or any sampler that
        does not need the net (``needs_net = False``), e.g.
        ``RepresentativeSampler(space="pca")``, its control without a generator,
        or ``"labeled"``: the samples ``y`` already labels (-1 or NaN marking the
        others), with no draw; ``initial_size`` is then not used.
    initial_size : int or float, default=100
        Labels of round 1 (a float in (0, 1) is a fraction of the pool).
    round_size : int or float, default=100
        New labels per later round.
    n_rounds : int, default=10
        Rounds run by ``fit``.
    step_size : float, "auto" or None, default=None
        Shortcut for the sampler's ``step_size`` (None: the sampler's own); a
        ``ValueError`` before any label is paid for when the sampler has none.
    n_anchors : int or None, default=None
        Shortcut for the sampler's ``n_anchors``, likewise.
    retrain : {"continue", "scratch"}, default="continue"
        Keep training the same net each round, or re-initialise it.
    callbacks : list of Callback or None, default=None
        Objects with ``on_fit_begin``, ``on_round_begin``, ``on_round_end`` and
        ``on_fit_end`` hooks (:mod:`hardsample.callbacks`), called in order.
    stop_when : callable or None, default=None
        ``stop_when(estimator, record) -> bool``, asked after each trained round of
        ``fit`` and ``partial_fit``, e.g. :class:`~hardsample.callbacks.LabelBudget`
        or :class:`~hardsample.callbacks.ScorePlateau`; when it says stop,
        ``stopped_`` is True and ``partial_fit`` requests nothing more.
    random_state : int, RandomState instance or None, default=None
        Seeds selections, the generator (when its own seed is None) and the net's
        initialisation and batch order: the same seed gives the same selections
        and predictions on CPU, and the same round-1 labels for every sampler.
    verbose : int, default=0
        Show a progress bar over rounds (:class:`~hardsample.callbacks.ProgressBar`)
        when > 0.

"""

_ATTRIBUTES = """\
    generator_ : fitted generator or None
    sampler_ : sampler object
        The sampler used: a copy of ``sampler`` with the shortcuts applied.
    initial_sampler_ : sampler object or None
        The sampler that chose round 1 (a copy of ``initial``), or None when round 1
        was drawn at random.
    labeled_indices_ : ndarray of int
        Pool indices in the order they were labeled.
    y_labeled_ : ndarray
        Their labels, in the same order.
    latent_codes_ : ndarray of shape (n_pool, latent_dim) or None
        The pool's latent codes.
    latent_index_ : LatentIndex or None
        The index over ``latent_codes_``.
    history_ : list of RoundRecord
        One :class:`~hardsample.RoundRecord` per round (it reads like a
        dict): round, n_labeled, n_new, n_oracle_calls, n_failed, n_reused (labels
        taken from a journal so far), train_seconds, mining_seconds,
        labeling_seconds, and mining_split: the sampler's stages in seconds (e.g.
        ``{"gradient": ..., "neighbors": ..., "judging": ...}``; the rest of
        mining_seconds is building the round's state), score and score_name: the
        score on a labeled validation set after the round, with
        ``callbacks=[EvaluateEachRound(X_val, y_val)]`` (None without it), and, with
        people labeling, n_chosen (labels given outside the round's request) and
        n_pending (requested samples still awaiting labels when the round trained).
    pending_ : ndarray of int
        Pool indices a round requested and that await labels, in request order
        (empty when nothing waits). Saved with the estimator by ``joblib.dump``.
    stopped_ : bool
        Whether ``stop_when`` ended the run.
    setup_seconds_ : dict
        Seconds spent once per fit before round 1: ``generator_fit``, ``encoding``
        (the pool's latent codes) and ``index`` (the latent index); empty for
        samplers that do not use the latent space.
    n_oracle_calls_ : int
        Samples sent to the oracle and answered (samples pending are not counted).
    failed_labels_ : list of dict
        Samples whose labeling failed: round, pool index (None for synthetic), error.
    n_features_in_ : int
        Values per sample (the product of the sample shape).
    sample_shape_ : tuple
        Shape of one sample.

"""

_document(LatentHardMiningClassifier, "skorch.NeuralNetClassifier", "n_classes", """\
        The default is the measured recommendation: margin sampling over a uniform
        subset of the pool, which needs no generator. On MNIST it ties full-pool
        ``"margin"`` at a fraction of its cost and is not beaten by any latent
        sampler (see "Which sampler" in the user guide).
""")
_document(LatentHardMiningRegressor, "skorch.NeuralNetRegressor", "n_outputs", """\
        The default is ``"random"`` because no registered strategy has beaten it on
        regression so far (the vessel studies in ``benchmarks/results``); pass
        another sampler to study it against random in the same run.
""")
