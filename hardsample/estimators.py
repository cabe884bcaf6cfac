"""LatentHardMiningClassifier and LatentHardMiningRegressor: the round loop.

The meta-estimators only orchestrate: stage 1 fits the generator on the unlabeled
pool and encodes it once; stage 2 runs rounds of ``sampler -> oracle -> net``.
"""

import inspect
import numbers

import numpy as np
import skorch
import torch
from skorch.dataset import ValidSplit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import r2_score
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from tqdm.auto import tqdm

from ._timing import Stopwatch
from ._torch import seed_from, torch_seeded
from ._validation import check_samples, fingerprint, resolve_size
from .neighbors import LatentIndex
from .oracles import DatasetOracle, LabelingError, check_oracle
from .samplers import SAMPLERS, MiningState

#: Replacement proposals tried in one round after labeling failures, before giving up.
MAX_REPLACEMENT_ATTEMPTS = 10


class _BaseLatentHardMining(BaseEstimator):
    """Shared round loop of the classifier and the regressor (not for direct use)."""

    _net_type = skorch.NeuralNet

    def __init__(
        self,
        net,
        generator=None,
        sampler="nearest",
        *,
        initial_size=100,
        round_size=100,
        n_rounds=10,
        step_size=1.0,
        n_anchors=None,
        retrain="continue",
        random_state=None,
        verbose=0,
    ):
        self.net = net
        self.generator = generator
        self.sampler = sampler
        self.initial_size = initial_size
        self.round_size = round_size
        self.n_rounds = n_rounds
        self.step_size = step_size
        self.n_anchors = n_anchors
        self.retrain = retrain
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ public API
    def fit(self, X, y=None, *, oracle=None, classes=None):
        """Run ``n_rounds`` rounds of mining, labeling and training.

        Round 1 labels ``initial_size`` random pool samples; each later round adds
        ``round_size`` samples chosen by the sampler, so
        ``initial_size + (n_rounds - 1) * round_size`` labels are paid for in all.

        Parameters
        ----------
        X : array-like of shape (n_pool, ...)
            The unlabeled pool (any sample shape the net accepts).
        y : array-like of shape (n_pool, ...), default=None
            The pool's hidden labels: only entries the sampler queries are read.
        oracle : callable or oracle object, default=None
            A labeling tool ``oracle(X_batch) -> y_batch``, instead of ``y``.
        classes : array-like, default=None
            All class labels (classifier); required with ``oracle``.

        Returns
        -------
        self
        """
        self._reset()
        X = self._start(X, y, oracle, classes, n_planned_rounds=self._check_n_rounds())
        rounds = tqdm(range(self.n_rounds), desc=type(self).__name__, disable=not self.verbose)
        for _ in rounds:
            self._run_round(X)
            rounds.set_postfix(n_labeled=self.history_[-1]["n_labeled"])
        return self

    def partial_fit(self, X, y=None, *, oracle=None, classes=None):
        """Run one round.

        The first call labels ``initial_size`` random samples and trains the net;
        each later call mines ``round_size`` new samples, labels them and trains
        (continuing or from scratch, see ``retrain``). ``X`` (and ``y``) must be the
        same pool at every call.

        Returns
        -------
        self
        """
        if not hasattr(self, "_pool_fingerprint"):
            X = self._start(X, y, oracle, classes, n_planned_rounds=1)
        else:
            X = self._check_same_pool(X, y)
        self._run_round(X)
        return self

    # ----------------------------------------------------------- parameter checks
    def _check_n_rounds(self):
        n_rounds = self.n_rounds
        if isinstance(n_rounds, bool) or not isinstance(n_rounds, numbers.Integral) or n_rounds < 1:
            raise ValueError(f"n_rounds must be a positive int, got {n_rounds!r}.")
        return int(n_rounds)

    def _check_net(self):
        if not isinstance(self.net, self._net_type):
            raise TypeError(
                f"net must be a skorch {self._net_type.__name__} (e.g. "
                f"skorch.{self._net_type.__name__}(module, ...)), got {type(self.net).__name__}."
            )

    def _make_sampler(self):
        if isinstance(self.sampler, str):
            if self.sampler not in SAMPLERS:
                raise ValueError(
                    f"sampler must be one of {sorted(SAMPLERS)} or a sampler object, "
                    f"got {self.sampler!r}."
                )
            cls = SAMPLERS[self.sampler]
            accepted = inspect.signature(cls).parameters
            options = {"step_size": self.step_size, "n_anchors": self.n_anchors}
            return cls(**{k: v for k, v in options.items() if k in accepted})
        if not callable(getattr(self.sampler, "propose", None)):
            raise TypeError(
                "sampler must be a name or an object with a propose(state, n, random_state) "
                f"method, got {type(self.sampler).__name__}."
            )
        return self.sampler

    # --------------------------------------------------------------- round 0 setup
    def _reset(self):
        # fit starts a new run: the next round is round 1 on whatever pool it is given.
        if hasattr(self, "_pool_fingerprint"):
            del self._pool_fingerprint

    def _start(self, X, y, oracle, classes, n_planned_rounds):
        self._check_net()
        if self.retrain not in ("continue", "scratch"):
            raise ValueError(f"retrain must be 'continue' or 'scratch', got {self.retrain!r}.")
        X = check_samples(X)
        n_pool = len(X)
        oracle = check_oracle(y, oracle)
        if oracle is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None: "
                "pass the pool's hidden labels as y, or a labeling tool as oracle=."
            )
        if isinstance(oracle, DatasetOracle):
            oracle.y = self._check_hidden_labels(oracle.y, n_pool, classes)
        else:
            self._check_classes_for_tool(classes)
        sampler = self._make_sampler()
        self._initial_size = resolve_size(self.initial_size, n_pool, "initial_size")
        self._round_size = resolve_size(self.round_size, n_pool, "round_size")
        budget = self._initial_size + (n_planned_rounds - 1) * self._round_size
        if not sampler.synthesizes and budget > n_pool:
            raise ValueError(
                f"The labeling budget ({budget} labels: initial_size={self._initial_size} + "
                f"{n_planned_rounds - 1} rounds x round_size={self._round_size}) is larger "
                f"than the pool ({n_pool} sample{'s' if n_pool != 1 else ''})."
            )

        self._rng = check_random_state(self.random_state)
        generator_seed = seed_from(self._rng)
        self.n_features_in_ = X.shape[1]
        self.sample_shape_ = tuple(X.shape[1:])
        self.sampler_ = sampler
        self.oracle_ = oracle
        self._fit_generator(X, sampler, generator_seed)
        self.net_ = None  # built at the first training, once the targets' shape is known
        self.labeled_indices_ = np.empty(0, dtype=np.int64)
        self.X_synthetic_ = np.empty((0, *self.sample_shape_), dtype=np.float32)
        self._targets_real = []
        self._targets_synthetic = []
        self._z_synthetic = np.empty((0, self._latent_dim()), dtype=np.float32)
        self._excluded = np.zeros(n_pool, dtype=bool)
        self.failed_labels_ = []
        self.history_ = []
        self.n_oracle_calls_ = 0
        self._pool_fingerprint = fingerprint(X)
        self._labels_fingerprint = None if y is None else fingerprint(np.asarray(y))
        return X

    def _fit_generator(self, X, sampler, seed):
        self.generator_ = None
        self.latent_codes_ = None
        self.latent_index_ = None
        watch = Stopwatch()
        self.setup_seconds_ = watch.seconds
        if not sampler.uses_latent_space:
            return
        if self.generator is None:
            raise ValueError(
                f"sampler={self.sampler!r} mines in a latent space: pass a generator "
                "(e.g. hardsample.generators.VAETransformer())."
            )
        if isinstance(self.generator, FrozenEstimator):
            generator = self.generator.estimator
        else:
            generator = clone(self.generator)
            if "random_state" in generator.get_params() and generator.random_state is None:
                generator.set_params(random_state=seed)
            with watch("generator_fit"):
                generator.fit(X)
        with watch("encoding"):
            codes = np.asarray(generator.transform(X), dtype=np.float32)
        if codes.ndim != 2 or len(codes) != len(X) or codes.shape[1] == 0:
            raise ValueError(
                f"The generator's transform returned shape {codes.shape}; expected "
                f"({len(X)}, latent_dim) with latent_dim >= 1."
            )
        if not np.isfinite(codes).all():
            raise ValueError(
                "The generator produced NaN or infinite latent codes for the pool; check its "
                "training (learning rate, input scaling)."
            )
        self.generator_ = generator
        self.latent_codes_ = codes
        with watch("index"):
            self.latent_index_ = LatentIndex(
                method=getattr(sampler, "index", "auto"),
                device=getattr(generator, "device", "cpu") or "cpu",
                random_state=seed,
            ).fit(codes)

    def _latent_dim(self):
        return 0 if self.latent_codes_ is None else self.latent_codes_.shape[1]

    def _make_net(self):
        net = clone(self.net)
        overrides = {}
        # skorch holds out 20 % of the data for validation by default: with the tiny
        # labeled sets of active learning, every label should train the net.
        if type(net.train_split) is ValidSplit and net.train_split.cv == 5:
            overrides["train_split"] = None
        # skorch does not shuffle by default; labels arrive grouped by round.
        if not hasattr(net, "iterator_train__shuffle"):
            overrides["iterator_train__shuffle"] = True
        overrides.update(self._module_overrides(net))
        return net.set_params(**overrides)

    def _module_overrides(self, net):
        return {}

    def _check_same_pool(self, X, y):
        X = self._check_sample_shape(check_samples(X))
        same_x = fingerprint(X) == self._pool_fingerprint
        same_y = y is None or fingerprint(np.asarray(y)) == self._labels_fingerprint
        if not (same_x and same_y):
            raise ValueError(
                "The pool changed between partial_fit calls: X (and y) must be the same "
                "samples in the same order at every call; call fit or use a fresh estimator "
                "for a new pool."
            )
        return X

    # ------------------------------------------------------------------ one round
    def _mining_state(self, X):
        X_labeled, y_labeled = self._training_set(X)
        z_labeled = None
        if self.latent_codes_ is not None:
            z_labeled = np.concatenate([self.latent_codes_[self.labeled_indices_], self._z_synthetic])
        return MiningState(
            X_pool=X,
            latent_codes=self.latent_codes_,
            excluded=self._excluded.copy(),
            X_labeled=X_labeled,
            y_labeled=self._net_targets(y_labeled),
            z_labeled=z_labeled,
            net=self.net_,
            generator=self.generator_,
            latent_index=self.latent_index_,
        )

    def _training_set(self, X):
        X_train = np.concatenate([X[self.labeled_indices_], self.X_synthetic_])
        targets = self._targets_real + self._targets_synthetic
        y_train = np.asarray(targets, dtype=self._target_dtype)
        if len(targets) == 0:
            y_train = y_train.reshape((0, *self._target_shape()))
        return X_train, y_train

    def _run_round(self, X):
        round_number = len(self.history_) + 1
        round_rng = np.random.RandomState(seed_from(self._rng))
        torch_seed = seed_from(round_rng)
        mining_seed = seed_from(round_rng)
        n_wanted = self._initial_size if round_number == 1 else self._round_size
        # Labels kept from an earlier attempt at this round that ended in a
        # LabelingError count towards it: retrying the round completes it.
        n_before = self.history_[-1]["n_labeled"] if self.history_ else 0
        n_new = len(self._targets_real) + len(self._targets_synthetic) - n_before
        if not self.sampler_.synthesizes and n_wanted - n_new > int((~self._excluded).sum()):
            raise ValueError(
                f"Round {round_number} needs {n_wanted - n_new} new labels but only "
                f"{int((~self._excluded).sum())} pool samples are left unlabeled."
            )
        watch = Stopwatch()
        mining_split = {}
        for attempt in range(MAX_REPLACEMENT_ATTEMPTS + 1):
            n_missing = n_wanted - n_new
            if n_missing <= 0:
                break
            if attempt > 0:
                self._check_replacements_possible(round_number, n_wanted, n_new)
            with watch("mining"):
                state = self._mining_state(X)
                propose = (self.sampler_.initial_proposal if round_number == 1
                           else self.sampler_.propose)
                # skorch's data loaders draw from torch's global RNG even when predicting.
                with torch_seeded(mining_seed + attempt, self.net.device):
                    proposal = propose(state, n_missing, round_rng)
            for stage, seconds in (proposal.timings or {}).items():
                mining_split[stage] = mining_split.get(stage, 0.0) + seconds
            with watch("labeling"):
                n_new += self._label(X, proposal, round_number)
        if n_new < n_wanted:
            self._raise_labeling_failed(round_number, n_wanted, n_new)

        with watch("training"):
            self._train(X, torch_seed, first=round_number == 1)
        self.history_.append({
            "round": round_number,
            "n_labeled": len(self._targets_real) + len(self._targets_synthetic),
            "n_new": n_new,
            "n_oracle_calls": self.n_oracle_calls_,
            "n_failed": len(self.failed_labels_),
            "n_reused": int(getattr(self.oracle_, "n_reused_", 0)),
            "train_seconds": watch.seconds["training"],
            "mining_seconds": watch.seconds.get("mining", 0.0),
            "mining_split": mining_split,
            "labeling_seconds": watch.seconds.get("labeling", 0.0),
        })

    def _check_replacements_possible(self, round_number, n_wanted, n_new):
        if not self.sampler_.synthesizes and n_wanted - n_new > int((~self._excluded).sum()):
            self._raise_labeling_failed(round_number, n_wanted, n_new)

    def _raise_labeling_failed(self, round_number, n_wanted, n_new):
        recent = [f for f in self.failed_labels_ if f["round"] == round_number][-3:]
        reasons = "; ".join(f["error"] for f in recent) or "no reason recorded"
        got = "" if n_wanted is None else f" got {n_new} of the {n_wanted} labels it needs;"
        raise LabelingError(
            f"Round {round_number}{got} the oracle failed on "
            f"{sum(f['round'] == round_number for f in self.failed_labels_)} samples and "
            f"the pool has no more candidates or the retries ran out. Last errors: {reasons}. "
            f"The {len(self._targets_real) + len(self._targets_synthetic)} labels already paid "
            "for are kept (labeled_indices_, y_synthetic_); failures are in failed_labels_."
        )

    def _label(self, X, proposal, round_number):
        """Send a proposal to the oracle; keep every label that came back."""
        if proposal.indices is not None:
            indices = self._check_proposed_indices(proposal.indices)
            batch = X[indices]
            result = self.oracle_.label(batch, indices=indices)
        else:
            if not getattr(self.oracle_, "can_label_synthetic", False):
                raise TypeError(
                    f"{type(self.sampler_).__name__} proposes synthetic samples, which only a "
                    "labeling tool can label: pass oracle=<callable> instead of y."
                )
            indices = None
            batch = np.asarray(proposal.X, dtype=np.float32)
            result = self.oracle_.label(batch)
        self.n_oracle_calls_ += len(batch)
        if len(result.labels) != len(batch):
            raise LabelingError(
                f"The oracle answered {len(result.labels)} labels for {len(batch)} samples."
            )
        self._learn_target_shape([label for pos, label in enumerate(result.labels)
                                  if pos not in result.errors])
        accepted = []
        for pos, label in enumerate(result.labels):
            error = result.errors.get(pos)
            if error is None:
                target, error = self._encode_target(label)
            if error is not None:
                self.failed_labels_.append({
                    "round": round_number,
                    "index": None if indices is None else int(indices[pos]),
                    "error": error,
                })
                if indices is not None:
                    self._excluded[indices[pos]] = True
                continue
            accepted.append(pos)
            if indices is not None:
                self._targets_real.append(target)
            else:
                self._targets_synthetic.append(target)
        accepted = np.asarray(accepted, dtype=np.int64)
        if indices is not None:
            self.labeled_indices_ = np.concatenate([self.labeled_indices_, indices[accepted]])
            self._excluded[indices[accepted]] = True
        else:
            self.X_synthetic_ = np.concatenate([self.X_synthetic_, batch[accepted]])
            codes = proposal.latent_codes
            codes = np.zeros((len(accepted), self._latent_dim()), np.float32) if codes is None \
                else np.asarray(codes, np.float32)[accepted]
            self._z_synthetic = np.concatenate([self._z_synthetic, codes])
        return len(accepted)

    def _check_proposed_indices(self, indices):
        indices = np.asarray(indices)
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise TypeError(f"The sampler proposed indices of shape {indices.shape} and dtype "
                            f"{indices.dtype}; expected a 1-D int array.")
        indices = indices.astype(np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self._excluded)):
            raise ValueError("The sampler proposed pool indices out of range.")
        if len(np.unique(indices)) != len(indices) or self._excluded[indices].any():
            raise ValueError(
                f"{type(self.sampler_).__name__} proposed an already labeled, failed or "
                "duplicate pool sample; a sampler must propose distinct unlabeled samples."
            )
        return indices

    def _train(self, X, torch_seed, first):
        X_train, y_train = self._training_set(X)
        with torch_seeded(torch_seed, self.net.device):
            if self.net_ is None:
                self.net_ = self._make_net()
                self._probe_net(X_train[:1])
            if first or self.retrain == "scratch":
                self.net_.fit(X_train, self._net_targets(y_train))
            else:
                self.net_.partial_fit(X_train, self._net_targets(y_train))
            if first:
                self._check_net_output(X_train[:1])

    def _net_targets(self, y):
        return y

    def _learn_target_shape(self, labels):
        pass

    def _probe_net(self, X_one):
        pass

    def _check_net_output(self, X_one):
        pass

    # -------------------------------------------------------------- prediction
    def _check_X_predict(self, X):
        check_is_fitted(self)
        return self._check_sample_shape(check_samples(X, ensure_min_samples=1))

    def _check_sample_shape(self, X):
        if tuple(X.shape[1:]) != self.sample_shape_:
            if X.ndim == 2 and len(self.sample_shape_) == 1:
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
        return hasattr(self, "history_") and len(self.history_) > 0

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class LatentHardMiningClassifier(ClassifierMixin, _BaseLatentHardMining):
    """Train a classifier on labels mined in a generative model's latent space.

    Stage 1 fits ``generator`` on the unlabeled pool (unless it is a fitted
    ``FrozenEstimator``) and encodes the pool once. Stage 2 runs ``n_rounds``
    rounds: round 1 labels ``initial_size`` random pool samples; each later round
    asks ``sampler`` for ``round_size`` samples, has the oracle label them and
    trains ``net`` on everything labeled so far.

    Parameters
    ----------
    net : skorch.NeuralNetClassifier
        The target net (cloned, never mutated). Unless set otherwise, its clone
        trains on every label (skorch's default 5-fold validation split is turned
        off), shuffles batches, and when its module takes an ``n_classes`` argument
        that is not set, gets the number of classes.
    generator : transformer with a differentiable ``decoder_``, default=None
        E.g. :class:`~hardsample.generators.VAETransformer`; unfitted (fitted on
        ``X`` inside ``fit``) or fitted and wrapped in
        :class:`sklearn.frozen.FrozenEstimator`. Only needed by samplers that mine
        in the latent space.
    sampler : {"nearest", "random"} or sampler object, default="nearest"
        What to label next: the paper's SNN, the random baseline, or any object
        with ``propose(state, n, random_state)``.
    initial_size : int or float, default=100
        Random labels of round 1 (a float in (0, 1) is a fraction of the pool).
    round_size : int or float, default=100
        New labels per later round.
    n_rounds : int, default=10
        Rounds run by ``fit``.
    step_size : float, default=1.0
        Latent step of the named gradient samplers (sampler objects keep theirs).
    n_anchors : int or None, default=None
        Anchors per round of the named gradient samplers (None: one per sample).
    retrain : {"continue", "scratch"}, default="continue"
        Keep training the same net each round, or re-initialise it.
    random_state : int, RandomState instance or None, default=None
        Seeds selections, the generator (when its own seed is None) and the net's
        initialisation and batch order: the same seed gives the same selections
        and predictions on CPU, and the same round-1 labels for every sampler.
    verbose : int, default=0
        Show a progress bar over rounds when > 0.

    Attributes
    ----------
    net_ : skorch.NeuralNetClassifier
        The trained net.
    generator_ : fitted generator or None
    classes_ : ndarray
    labeled_indices_ : ndarray of int
        Pool indices in the order they were labeled.
    latent_codes_ : ndarray of shape (n_pool, latent_dim) or None
        The pool's latent codes.
    history_ : list of dict
        One per round: round, n_labeled, n_new, n_oracle_calls, n_failed,
        n_reused (labels taken from a journal so far), train_seconds,
        mining_seconds, labeling_seconds, and mining_split: the sampler's stages
        in seconds (e.g. ``{"gradient": ..., "neighbors": ..., "judging": ...}``;
        the rest of mining_seconds is building the round's state).
    setup_seconds_ : dict
        Seconds spent once per fit before round 1: ``generator_fit``, ``encoding``
        (the pool's latent codes) and ``index`` (the latent index); empty for
        samplers that do not use the latent space.
    n_oracle_calls_ : int
        Samples sent to the oracle.
    failed_labels_ : list of dict
        Samples whose labeling failed: round, pool index (None for synthetic), error.
    n_features_in_ : int

    Examples
    --------
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn.datasets import load_digits
    >>> from hardsample import LatentHardMiningClassifier
    >>> from hardsample.generators import PCAGenerator
    >>> from hardsample.nets import MLP
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16.0).astype("float32")
    >>> net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss,
    ...                           optimizer=torch.optim.Adam, lr=1e-2,
    ...                           max_epochs=10, verbose=0)
    >>> clf = LatentHardMiningClassifier(net, PCAGenerator(n_components=3),
    ...                                  initial_size=50, round_size=50,
    ...                                  n_rounds=3, random_state=0).fit(X, y)
    >>> len(clf.labeled_indices_)
    150
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _net_type = skorch.NeuralNetClassifier
    _target_dtype = np.int64

    def _target_shape(self):
        return ()

    def _check_hidden_labels(self, y, n_pool, classes):
        y = column_or_1d(np.asarray(y, dtype=object) if _is_string_like(y) else y, warn=True)
        if len(y) != n_pool:
            raise ValueError(
                f"X and y have different lengths: {n_pool} samples but {len(y)} labels."
            )
        labels = _unique_labels(y, "y")  # before sklearn's checks, which sort y too
        check_classification_targets(y)
        self.classes_ = self._check_classes(labels if classes is None else classes)
        unknown = labels[~np.isin(labels, self.classes_)]
        if len(unknown):
            raise ValueError(f"y holds labels not in classes: {unknown[:5].tolist()}.")
        return y

    def _check_classes_for_tool(self, classes):
        if classes is None:
            raise ValueError(
                "With a labeling tool as oracle, the classifier needs classes= (all class "
                "labels) to size the net's output."
            )
        self.classes_ = self._check_classes(classes)

    @staticmethod
    def _check_classes(classes):
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError(
                f"classes must be a 1-D array of labels, got shape {classes.shape}.")
        classes = _unique_labels(classes, "classes")
        if len(classes) < 2:
            raise ValueError(
                "LatentHardMiningClassifier needs samples of at least 2 classes, but the data "
                f"contains only one class: {classes.tolist()}."
            )
        return classes

    def _encode_target(self, label):
        label = np.asarray(label)
        if label.ndim != 0 and label.size != 1:
            return None, f"a class label must be a scalar, got shape {label.shape}"
        label = label.reshape(()).item() if label.ndim else label.item()
        position = np.searchsorted(self.classes_, label) if _comparable(self.classes_, label) else -1
        if not (0 <= position < len(self.classes_)) or self.classes_[position] != label:
            return None, f"label {label!r} is not one of classes_ {self.classes_.tolist()[:10]}"
        return int(position), None

    def _module_overrides(self, net):
        module = net.module
        params = net.get_params()
        if inspect.isclass(module) and "n_classes" in inspect.signature(module).parameters \
                and "module__n_classes" not in params:
            return {"module__n_classes": len(self.classes_)}
        return {}

    def _check_net_output(self, X_one):
        n_outputs = self.net_.predict_proba(X_one).shape[1]
        if n_outputs != len(self.classes_):
            raise ValueError(
                f"The net outputs {n_outputs} scores per sample but there are "
                f"{len(self.classes_)} classes; size its last layer to the classes "
                "(e.g. module__n_classes)."
            )

    @property
    def y_labeled_(self):
        """Labels of ``labeled_indices_``, in the same order."""
        check_is_fitted(self)
        return self.classes_[np.asarray(self._targets_real, dtype=np.int64)]

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

    Same round loop and parameters as :class:`LatentHardMiningClassifier`; the net
    is a ``skorch.NeuralNetRegressor`` and targets may have any shape (e.g. a
    stress map per input image). With a labeling tool as ``oracle``, samplers that
    synthesize samples (``sampler="interpolation"``) can be used.

    Attributes
    ----------
    net_ : skorch.NeuralNetRegressor
    generator_ : fitted generator or None
    labeled_indices_ : ndarray of int
    X_synthetic_, y_synthetic_ : ndarray
        Synthesized training samples and their labels (empty for pool samplers).
    history_, setup_seconds_, n_oracle_calls_, failed_labels_, latent_codes_, n_features_in_
        As in :class:`LatentHardMiningClassifier`.

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
    _target_dtype = np.float32

    def _target_shape(self):
        return getattr(self, "target_shape_", None) or ()

    def _check_hidden_labels(self, y, n_pool, classes):
        y = check_array(y, dtype=np.float32, ensure_2d=False, allow_nd=True,
                        ensure_all_finite=True, ensure_min_samples=0, input_name="y")
        if y.ndim == 0 or len(y) != n_pool:
            raise ValueError(
                f"X and y have different lengths: {n_pool} samples but "
                f"{0 if y.ndim == 0 else len(y)} targets."
            )
        self.target_shape_ = tuple(y.shape[1:])
        return y

    def _check_classes_for_tool(self, classes):
        self.target_shape_ = None

    def _learn_target_shape(self, labels):
        """With a labeling tool, take the target shape from the first answered batch.

        The most common shape among the batch's numeric labels wins (the first seen on
        a tie), so that one malformed label, wherever it falls in the batch, cannot set
        the shape that every later label is checked against.
        """
        if self.target_shape_ is not None:
            return
        shapes = []
        for label in labels:
            try:
                shapes.append(np.asarray(label, dtype=np.float32).shape)
            except (TypeError, ValueError):
                continue
        if shapes:
            counts = {}
            for shape in shapes:
                counts[shape] = counts.get(shape, 0) + 1
            self.target_shape_ = max(counts, key=counts.get)  # dicts keep first-seen order

    def _encode_target(self, label):
        try:
            target = np.asarray(label, dtype=np.float32)
        except (TypeError, ValueError):
            return None, f"target {label!r} is not numeric"
        if not np.isfinite(target).all():
            return None, "target holds NaN or infinite values"
        if self.target_shape_ is None:
            self.target_shape_ = tuple(target.shape)
        if tuple(target.shape) != self.target_shape_:
            return None, f"target of shape {target.shape}, expected {self.target_shape_}"
        return target, None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _module_overrides(self, net):
        module = net.module
        if inspect.isclass(module) and "n_outputs" in inspect.signature(module).parameters \
                and "module__n_outputs" not in net.get_params():
            return {"module__n_outputs": int(np.prod(self._target_shape()))}
        return {}

    def _probe_net(self, X_one):
        """Learn the net's output shape, to hand it targets in that shape."""
        self.net_.initialize()
        with torch.no_grad():
            output = self.net_.infer(torch.as_tensor(X_one, device=self.net_.device))
        self._net_output_shape = tuple(output.shape[1:])
        if int(np.prod(self._net_output_shape)) != int(np.prod(self._target_shape())):
            raise ValueError(
                f"The net outputs {self._net_output_shape} per sample but the targets have "
                f"shape {self._target_shape()}; size its output to the targets "
                "(e.g. module__n_outputs)."
            )

    def _net_targets(self, y):
        # skorch regressors want targets shaped like the net's output (a column for
        # scalar targets).
        shape = getattr(self, "_net_output_shape", None) or (int(np.prod(y.shape[1:])) or 1,)
        return y.reshape((len(y), *shape))

    @property
    def y_synthetic_(self):
        """Targets of ``X_synthetic_``."""
        check_is_fitted(self)
        return np.asarray(self._targets_synthetic, dtype=np.float32).reshape(
            (len(self._targets_synthetic), *self._target_shape()))

    @property
    def y_labeled_(self):
        """Targets of ``labeled_indices_``, in the same order."""
        check_is_fitted(self)
        return np.asarray(self._targets_real, dtype=np.float32).reshape(
            (len(self._targets_real), *self._target_shape()))

    def predict(self, X):
        """Predicted targets, shaped like the labels (``(n,)`` for scalar targets)."""
        X = self._check_X_predict(X)
        y_pred = self.net_.predict(X).astype(np.float64)
        return y_pred.reshape((len(X), *self._target_shape()))

    def score(self, X, y, sample_weight=None):
        """R² of the predictions, over all target entries (flattened per sample)."""
        y_pred = self.predict(X)
        y = np.asarray(y, dtype=np.float32)
        if y.ndim <= 1:
            return r2_score(y, y_pred, sample_weight=sample_weight)
        return r2_score(y.reshape(len(y), -1), y_pred.reshape(len(y), -1),
                        sample_weight=sample_weight)


def _unique_labels(labels, name):
    """Sorted distinct labels; a clear TypeError when they cannot be ordered."""
    try:
        return np.unique(labels)
    except TypeError as exc:  # e.g. str and int mixed in an object array
        kinds = sorted({type(v).__name__ for v in np.asarray(labels, dtype=object).ravel()})
        raise TypeError(
            f"{name} mixes labels of types {kinds} that cannot be sorted; use labels of one "
            "type (e.g. all str or all int)."
        ) from exc


def _is_string_like(y):
    return isinstance(y, list) and any(isinstance(v, str) for v in y)


def _comparable(classes, label):
    try:
        np.searchsorted(classes, label)
        return True
    except TypeError:
        return False
