"""scikit-activeml's pool strategies as hardsample samplers, for ``benchmarks/peers.py``.

Running a peer *inside* hardsample's round loop (as the sampler of a
``LatentHardMiningClassifier``) gives it exactly what hardsample's own strategies
get: the same random round-1 labels, the same net initialisation and training seed
per round, the same oracle, and its selection time measured by the same stopwatch
(``mining_seconds``). Only the choice of the next labels is scikit-activeml's: each
round :class:`SkactivemlSampler` builds a fresh scikit-activeml query strategy and
calls its ``query``.

What each peer is given (:data:`PEERS`):

- ``X``: the trained net's penultimate features of the whole pool (the activations
  entering LeNet's last linear layer, 500-D, recomputed every round), or with
  ``embedding="latent"`` the generator's latent codes of the pool (model-free peers
  only);
- ``clf`` (peers that need a classifier): :class:`NetHead`, the trained net's last
  linear layer and softmax acting on those features. Its probabilities are the
  net's own ``predict_proba``, so Badge's gradient embedding
  ``(p - onehot(argmax p)) ⊗ features`` is the gradient of the cross-entropy with
  respect to the last layer's weights, as in the Badge paper, and DropQuery's
  dropout acts on the features, as in its paper;
- ``y``: the pool marked labeled / unlabeled. Labeled rows carry a placeholder class:
  none of these strategies reads the labels themselves once the classifier is
  trained (``fit_clf=False``; ProbCover is given ``n_classes``).

scikit-activeml is a benchmark-only dependency (the ``bench`` extra).
"""

import numpy as np
from skactiveml.base import SkactivemlClassifier

from hardsample._timing import Stopwatch
from hardsample._torch import seed_from
from hardsample.samplers import BaseSampler, Proposal
from hardsample.samplers.coreset import penultimate_features
from hardsample.samplers.uncertainty import uniform_subset

MISSING = -1

#: Peer name -> (scikit-activeml class name, needs a classifier, what ``X`` it may take).
PEERS = {
    "badge": ("Badge", True, ("penultimate",)),
    "typiclust": ("TypiClust", False, ("penultimate", "latent")),
    "probcover": ("ProbCover", False, ("penultimate", "latent")),
    "coreset": ("CoreSet", False, ("penultimate", "latent")),
    "falcun": ("Falcun", True, ("penultimate",)),
    "dropquery": ("DropQuery", True, ("penultimate",)),
    "clue": ("Clue", True, ("penultimate",)),
    "entropy": ("UncertaintySampling", True, ("penultimate",)),
    "margin": ("UncertaintySampling", True, ("penultimate",)),
}

#: ProbCover's candidate ball radii (the largest with purity >= alpha is used).
PROBCOVER_DELTAS = np.round(np.arange(1, 201) * 0.01, 2)

#: How each peer's ``X`` is prepared, in words, for the reports.
PREPARATION = {
    "probcover": "rows scaled to unit length (the paper's normalised embeddings); the "
                 "ball radius is the largest of 0.01, 0.02, ..., 2.00 whose purity is >= 0.95 "
                 "(scikit-activeml's rule; its default grid starts at 0.2, where the purity "
                 "of these features is far below 0.95)",
    "typiclust": "k-means (<= 50 clusters) or mini-batch k-means (batch 5000) into "
                 "labeled + batch clusters, as TypiClust's authors",
}


def softmax(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


class NetHead(SkactivemlClassifier):
    """The last linear layer of a trained net plus softmax, on penultimate features.

    A scikit-activeml classifier whose ``fit`` only sets up scikit-activeml's label
    bookkeeping (classes, cost matrix): the weights are the trained net's, passed as
    ``weight`` (n_classes, n_features) and ``bias`` (n_classes,).

    Examples
    --------
    >>> head = NetHead(weight=np.eye(2, dtype=np.float32), bias=np.zeros(2, np.float32),
    ...                classes=[0, 1]).fit(np.zeros((2, 2)), [0, MISSING])
    >>> np.round(head.predict_proba(np.array([[2.0, 0.0]])).astype(float), 3).tolist()
    [[0.881, 0.119]]
    """

    def __init__(self, weight=None, bias=None, classes=None, missing_label=MISSING,
                 cost_matrix=None, random_state=None):
        super().__init__(classes=classes, missing_label=missing_label,
                         cost_matrix=cost_matrix, random_state=random_state)
        self.weight = weight
        self.bias = bias

    def fit(self, X, y, sample_weight=None):
        self._validate_data(X, y, sample_weight)
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype=np.float32)
        return softmax(X @ np.asarray(self.weight).T + np.asarray(self.bias))


def last_linear(net):
    """The last ``torch.nn.Linear`` of a fitted skorch net's module."""
    import torch

    return [m for m in net.module_.modules() if isinstance(m, torch.nn.Linear)][-1]


def net_head(net, y, n_classes, random_state):
    """:class:`NetHead` of ``net``'s last ``torch.nn.Linear``, fitted on ``y``'s bookkeeping."""
    last = last_linear(net)
    weight = last.weight.detach().cpu().numpy().astype(np.float32)
    bias = (np.zeros(len(weight), np.float32) if last.bias is None
            else last.bias.detach().cpu().numpy().astype(np.float32))
    head = NetHead(weight=weight, bias=bias, classes=np.arange(n_classes),
                                    missing_label=MISSING, random_state=random_state)
    return head.fit(np.zeros((len(y), weight.shape[1]), np.float32), y)


def make_query_strategy(peer, *, n_classes, n_clusters, random_state):
    """A fresh scikit-activeml query strategy for ``peer`` (one of :data:`PEERS`)."""
    import skactiveml.pool as pool
    from sklearn.cluster import KMeans, MiniBatchKMeans

    common = dict(missing_label=MISSING, random_state=random_state)
    if peer in ("entropy", "margin"):
        return pool.UncertaintySampling(
            method="entropy" if peer == "entropy" else "margin_sampling", **common)
    if peer == "typiclust":
        if n_clusters <= 50:
            return pool.TypiClust(cluster_algo=KMeans, **common)
        return pool.TypiClust(cluster_algo=MiniBatchKMeans,
                              cluster_algo_dict={"batch_size": 5000}, **common)
    if peer == "probcover":
        return pool.ProbCover(n_classes=n_classes, deltas=PROBCOVER_DELTAS, **common)
    return getattr(pool, PEERS[peer][0])(**common)


class SkactivemlSampler(BaseSampler):
    """A scikit-activeml pool strategy choosing hardsample's next round.

    Parameters
    ----------
    peer : str, default="badge"
        A key of :data:`PEERS`.
    embedding : {"penultimate", "latent"}, default="penultimate"
        The ``X`` the strategy sees: the net's penultimate features of the pool, or the
        generator's latent codes (TypiClust, ProbCover and CoreSet only).
    batch_size : int, default=1024
        Pool samples per forward pass.
    n_candidates : int or None, default=None
        None: the strategy sees and chooses among the whole available pool. An int:
        it sees only the labeled rows and ``n_candidates * n`` available samples drawn
        uniformly each round, and chooses among the latter: the same candidate budget
        as ``SubsampledMarginSampler(n_candidates=...)``, for peers whose query grows
        faster than linearly with the pool (Badge's k-means++ seeding, ProbCover's
        pairwise distances). For Badge and CoreSet this changes nothing but the
        candidates (their query reads only the candidates and the labeled rows);
        TypiClust and ProbCover estimate density and coverage on that uniform sample.

    Examples
    --------
    >>> SkactivemlSampler("typiclust", embedding="latent").uses_latent_space
    True
    """

    def __init__(self, peer="badge", embedding="penultimate", batch_size=1024,
                 n_candidates=None):
        self.peer = peer
        self.embedding = embedding
        self.batch_size = batch_size
        self.n_candidates = n_candidates

    @property
    def uses_latent_space(self):
        return self.embedding == "latent"

    def _validate_params(self):
        if self.peer not in PEERS:
            raise ValueError(f"unknown peer {self.peer!r}; choose among {sorted(PEERS)}")
        if self.embedding not in PEERS[self.peer][2]:
            raise ValueError(f"peer {self.peer!r} takes embedding in {PEERS[self.peer][2]}, "
                             f"got {self.embedding!r}")
        if self.n_candidates is not None and (isinstance(self.n_candidates, bool) or not
                                              isinstance(self.n_candidates, int)
                                              or self.n_candidates < 1):
            raise ValueError(f"n_candidates must be None or a positive int, got "
                             f"{self.n_candidates!r}")

    def _propose(self, state, n, random_state):
        needs_clf = PEERS[self.peer][1]
        watch = Stopwatch()
        seed = seed_from(random_state)
        rows = None
        if self.n_candidates is not None:
            candidates = uniform_subset(state.available_indices, self.n_candidates * n,
                                        random_state)
            # The peer sees only the labeled rows and the candidates: the same candidate
            # budget as SubsampledMarginSampler, and a cost that does not grow with the pool.
            rows = np.union1d(np.flatnonzero(state.excluded), candidates)
        with watch("embedding"):
            if self.embedding == "latent":
                X = np.asarray(state.latent_codes if rows is None else state.latent_codes[rows],
                               dtype=np.float32)
                features = None
            else:
                X = features = penultimate_features(
                    state.net, state.X_pool if rows is None else state.X_pool[rows],
                    self.batch_size)
        with watch("query"):
            n_classes = last_linear(state.net).out_features
            # Labeled (and failed) pool rows: a placeholder class (see the module docstring).
            excluded = state.excluded if rows is None else state.excluded[rows]
            y = np.where(excluded, 0, MISSING)
            n_clusters = int(excluded.sum()) + n
            strategy = make_query_strategy(self.peer, n_classes=n_classes,
                                           n_clusters=n_clusters, random_state=seed)
            if self.peer == "probcover" and features is not None:
                X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
            if needs_clf:
                clf = net_head(state.net, y, n_classes, seed)
                key = "estimator" if self.peer == "clue" else "clf"
                fit_key = "fit_estimator" if self.peer == "clue" else "fit_clf"
                picks = strategy.query(X, y, batch_size=n, **{key: clf, fit_key: False})
            else:
                picks = strategy.query(X, y, batch_size=n)
        picks = np.asarray(picks, dtype=np.int64)
        if rows is not None:
            picks = rows[picks]
        return Proposal(indices=picks,
                        latent_codes=None if state.latent_codes is None
                        else state.latent_codes[picks],
                        timings=watch.seconds)
