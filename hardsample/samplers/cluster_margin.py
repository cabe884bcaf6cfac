"""ClusterMarginSampler: the lowest-margin candidate of each region, one per region.

Margin sampling's picks of one round often crowd into the same confusion (a hundred
4-or-9s). Cluster-Margin (Citovsky et al., "Batch Active Learning at Scale", NeurIPS
2021) keeps the uncertain candidates but spreads the round's picks over clusters of
them. Here the clusters are drawn in the generator's latent space or, as its
same-cost control, in a PCA of the inputs.
"""

from numbers import Integral

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.utils._param_validation import Interval, StrOptions

from .._timing import Stopwatch
from ._base import LatentOrPCASampler, Proposal
from .representative import _flat
from .uncertainty import BATCH_SIZE, margin, predict_proba_batched, top_n, uniform_subset


class ClusterMarginSampler(LatentOrPCASampler):
    """Margin sampling over a uniform subset, one pick per cluster of the uncertain
    candidates (Cluster-Margin; registered as ``"cluster-margin"``).

    Each round:

    1. draw ``n * n_candidates`` available pool samples uniformly (the candidates of
       :class:`~hardsample.samplers.SubsampledMarginSampler`, drawn from the same
       random stream, so a shared seed gives both samplers the same candidates);
    2. keep the ``n * n_uncertain`` candidates with the smallest margin between the
       net's two most probable classes;
    3. cluster them by k-means into ``n`` clusters, in the ``space`` below;
    4. label the smallest-margin member of each cluster (if k-means returns fewer
       than ``n`` distinct clusters, the next smallest margins fill up).

    With ``n_uncertain=1`` this is :class:`~hardsample.samplers.SubsampledMarginSampler`.
    Against it, the sampler shows whether spreading a round's picks helps; against
    ``space="pca"``, whether the generator's codes are the better map to spread them on.

    Parameters
    ----------
    space : {"latent", "pca"}, default="latent"
        ``"latent"``: the generator's codes of the pool (the estimator fits the
        generator and encodes the pool). ``"pca"``: a ``n_components``-dimensional
        PCA of the flattened inputs, fitted each round on that round's candidates
        (a uniform sample of the pool); no generator is needed.
    n_candidates : int, default=64
        Uniform candidates judged per proposed sample.
    n_uncertain : int, default=10
        Lowest-margin candidates clustered per proposed sample (Citovsky et al. use
        10, after the net has judged the candidates).
    n_components : int, default=50
        Dimensions of the ``"pca"`` space.
    batch_size : int, default=1024
        Candidates per ``predict_proba`` call.

    Examples
    --------
    >>> from hardsample.samplers import ClusterMarginSampler
    >>> ClusterMarginSampler(space="pca")
    ClusterMarginSampler(space='pca')
    """

    task = "classification"
    _parameter_constraints = {
        "space": [StrOptions({"latent", "pca"})],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "n_uncertain": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "batch_size": BATCH_SIZE,
    }

    def __init__(self, space="latent", *, n_candidates=64, n_uncertain=10, n_components=50,
                 batch_size=1024):
        self.space = space
        self.n_candidates = n_candidates
        self.n_uncertain = n_uncertain
        self.n_components = n_components
        self.batch_size = batch_size

    def _propose(self, state, n, random_state):
        if self.space == "latent" and state.latent_codes is None:
            raise ValueError("ClusterMarginSampler(space='latent') needs the pool's latent "
                             "codes: pass a generator to the estimator, or use space='pca'.")
        if n == 0:
            return Proposal(indices=np.empty(0, dtype=np.int64))
        watch = Stopwatch()
        candidates = uniform_subset(state.available_indices, n * self.n_candidates,
                                    random_state)
        with watch("judging"):
            proba = predict_proba_batched(state.net, state.X_pool, self.batch_size,
                                          rows=candidates)
        n_uncertain = min(n * self.n_uncertain, len(candidates))
        # most uncertain first
        uncertain = candidates[top_n(-margin(proba), n_uncertain, random_state)]
        if n_uncertain <= n:
            picks = uncertain[:n]
        else:
            with watch("clustering"):
                features = self._features(state, candidates, uncertain, random_state)
                clusters = KMeans(n_clusters=n, n_init=1,
                                  random_state=random_state.randint(2**31 - 1)
                                  ).fit_predict(features)
            picks = _first_per_cluster(uncertain, clusters, n)
        picks = np.sort(picks).astype(np.int64)
        return Proposal(
            indices=picks,
            latent_codes=None if state.latent_codes is None else state.latent_codes[picks],
            timings=watch.seconds,
        )

    def _features(self, state, candidates, uncertain, random_state):
        if self.space == "latent":
            return np.asarray(state.latent_codes[uncertain], dtype=np.float64)
        sample = _flat(state.X_pool[candidates])
        pca = PCA(min(self.n_components, *sample.shape), svd_solver="randomized",
                  random_state=random_state.randint(2**31 - 1)).fit(sample)
        return pca.transform(_flat(state.X_pool[uncertain]))


def _first_per_cluster(ordered, clusters, n):
    """The first member of each cluster in ``ordered``, topped up in order to ``n``."""
    _, first = np.unique(clusters, return_index=True)
    taken = np.zeros(len(ordered), dtype=bool)
    taken[first] = True
    rest = np.flatnonzero(~taken)[:n - taken.sum()]
    taken[rest] = True
    return ordered[taken]
