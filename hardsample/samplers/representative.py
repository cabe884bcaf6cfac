"""RepresentativeSampler: one typical pool sample per uncovered cluster (TypiClust).

Uncertainty needs a net that already knows something; with few labels it does not,
and the first labels are better spent covering the data's dense regions (Hacohen,
Dekel & Weinshall, "Active Learning on a Budget", ICML 2022). This sampler needs no
net, so it can choose round 1 (the estimators' ``initial=``) as well as later rounds.
"""

from numbers import Integral

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import Interval, StrOptions

from .._timing import Stopwatch
from ._base import LatentOrPCASampler, Proposal

#: Rows a ``space="pca"`` projection is fitted on (a uniform sample of larger pools).
PCA_FIT_MAX_SAMPLES = 20_000
#: Rows read from the pool at a time when projecting it.
READ_BATCH = 4096
#: Clusters smaller than this are never chosen (TypiClust's authors use 5).
MIN_CLUSTER_SIZE = 5
#: Above this many clusters, mini-batch k-means (as TypiClust's authors).
KMEANS_MAX_CLUSTERS = 50


def pca_features(X_pool, n_components, random_state):
    """A PCA projection of the flattened pool, fitted on at most 20,000 rows.

    ``X_pool`` may be an array or a :class:`~hardsample.Pool`: it is read in batches.
    """
    n = len(X_pool)
    fit_rows = np.arange(n) if n <= PCA_FIT_MAX_SAMPLES else np.sort(
        random_state.choice(n, size=PCA_FIT_MAX_SAMPLES, replace=False))
    sample = _flat(X_pool[fit_rows])
    n_components = min(n_components, *sample.shape)
    pca = PCA(n_components, svd_solver="randomized",
              random_state=random_state.randint(2**31 - 1)).fit(sample)
    return np.concatenate([
        pca.transform(_flat(X_pool[start:start + READ_BATCH])).astype(np.float32)
        for start in range(0, n, READ_BATCH)])


def _flat(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows.reshape(len(rows), -1)


def typicality(features, n_neighbors):
    """Inverse mean Euclidean distance of each row to its ``n_neighbors`` nearest others."""
    k = min(n_neighbors, len(features) - 1)
    if k < 1:
        return np.ones(len(features))
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return 1.0 / (distances[:, 1:].mean(axis=1) + 1e-12)


class RepresentativeSampler(LatentOrPCASampler):
    """Label the most representative sample of each uncovered cluster (TypiClust).

    The pool's features are clustered by k-means into ``n_labeled + n`` clusters (at
    most ``max_clusters``). ``n`` times, the sampler takes the cluster holding the
    fewest labels (ties: the largest; clusters under 5 samples are skipped) and
    labels its member with the highest typicality — the inverse mean distance to its
    ``n_neighbors`` nearest cluster mates — or, with ``criterion="centroid"``, the
    member nearest the cluster's centre. The net is not used, so this sampler can
    choose round 1 (``initial=``), where uncertainty samplers cannot.

    Parameters
    ----------
    criterion : {"typicality", "centroid"}, default="typicality"
        Which member of a chosen cluster is labeled.
    space : {"latent", "pca"}, default="latent"
        ``"latent"``: the generator's codes of the pool (the estimator fits the
        generator and encodes the pool). ``"pca"``: a ``n_components``-dimensional
        PCA of the flattened inputs, fitted on at most 20,000 rows; no generator is
        needed. With the same criterion, ``"pca"`` is the same-cost control of
        ``"latent"``: it shows whether the generator's space is a better map of the
        data than a linear projection.
    n_components : int, default=50
        Dimensions of the ``"pca"`` space.
    n_neighbors : int, default=20
        Neighbours in the typicality estimate (TypiClust's authors use 20).
    max_clusters : int, default=500
        Upper bound on the number of clusters (TypiClust's authors use 500).

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.samplers import MiningState, RepresentativeSampler
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(10, 1, (50, 2))])
    >>> state = MiningState(X_pool=X, latent_codes=X, excluded=np.zeros(100, bool),
    ...                     X_labeled=X[:0], y_labeled=np.empty(0), z_labeled=X[:0],
    ...                     net=None)
    >>> picks = RepresentativeSampler().propose(state, 2, rng).indices
    >>> sorted((X[picks, 0] > 5).tolist())  # one from each blob
    [False, True]
    """

    needs_net = False
    _parameter_constraints = {
        "criterion": [StrOptions({"typicality", "centroid"})],
        "space": [StrOptions({"latent", "pca"})],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "max_clusters": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, criterion="typicality", space="latent", *, n_components=50,
                 n_neighbors=20, max_clusters=500):
        self.criterion = criterion
        self.space = space
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.max_clusters = max_clusters

    def _features(self, state, random_state):
        if self.space == "pca":
            return pca_features(state.X_pool, self.n_components, random_state)
        if state.latent_codes is None:
            raise ValueError("RepresentativeSampler(space='latent') needs the pool's latent "
                             "codes: pass a generator to the estimator, or use space='pca'.")
        return np.asarray(state.latent_codes, dtype=np.float32)

    def _propose(self, state, n, random_state):
        watch = Stopwatch()
        with watch("features"):
            features = self._features(state, random_state)
        n_labeled = int(state.excluded.sum())
        n_clusters = min(n_labeled + n, self.max_clusters, len(features))
        with watch("clustering"):
            kmeans_type = KMeans if n_clusters <= KMEANS_MAX_CLUSTERS else MiniBatchKMeans
            kmeans = kmeans_type(n_clusters=n_clusters, n_init=1,
                                 random_state=random_state.randint(2**31 - 1)).fit(features)
        with watch("picking"):
            picks = self._pick(features, kmeans, state.excluded, n)
        return Proposal(
            indices=picks,
            latent_codes=None if state.latent_codes is None else state.latent_codes[picks],
            timings=watch.seconds,
        )

    def _pick(self, features, kmeans, excluded, n):
        labels = kmeans.labels_
        sizes = np.bincount(labels, minlength=kmeans.n_clusters)
        covered = np.bincount(labels[excluded], minlength=kmeans.n_clusters)
        free = sizes - covered  # available members per cluster
        available = ~excluded
        picks = []
        for _ in range(n):
            eligible = (free > 0) & (sizes >= min(MIN_CLUSTER_SIZE, sizes.max()))
            if not eligible.any():
                eligible = free > 0
            # fewest labels first, then the largest cluster
            order = np.lexsort((-sizes, covered))
            cluster = order[eligible[order]][0]
            members = np.flatnonzero((labels == cluster) & available)
            if self.criterion == "centroid":
                score = -np.linalg.norm(features[members] - kmeans.cluster_centers_[cluster],
                                        axis=1)
            else:
                # typicality among the whole cluster, labeled members included
                everyone = np.flatnonzero(labels == cluster)
                score = typicality(features[everyone], self.n_neighbors)[
                    np.isin(everyone, members)]
            pick = members[int(np.argmax(score))]
            picks.append(pick)
            available[pick] = False
            covered[cluster] += 1
            free[cluster] -= 1
        return np.sort(np.asarray(picks, dtype=np.int64))
