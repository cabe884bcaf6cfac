"""LatentEntropySampler: latent hardness steps, candidates judged on real images."""

import numbers

import numpy as np

from ..hardness import hardness_step
from ._base import BaseSampler, Proposal
from .nearest import check_n_anchors, check_step_size, split_evenly
from .uncertainty import check_batch_size, check_n, entropy, predict_proba_batched

ANCHOR_SELECTIONS = ("loss", "random")


def check_n_candidates(n_candidates):
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, numbers.Integral) \
            or n_candidates < 1:
        raise ValueError(f"n_candidates must be a positive int, got {n_candidates!r}.")
    return int(n_candidates)


def draw_weighted_anchors(weights, n_anchors, random_state):
    """``n_anchors`` labeled positions drawn with probability proportional to ``weights``
    (without replacement while there are enough labeled samples)."""
    weights = np.asarray(weights, dtype=np.float64)
    p = weights / weights.sum()
    replace = n_anchors > np.count_nonzero(p)
    return random_state.choice(len(p), size=n_anchors, replace=replace, p=p).astype(np.int64)


class LatentEntropySampler(BaseSampler):
    """Latent hardness steps whose real neighbours are judged by the net's entropy.

    SNN (:class:`~hardsample.samplers.NearestNeighborSampler`) labels the single
    nearest pool sample to each stepped code, whether or not the net finds it hard.
    This sampler keeps SNN's latent step but treats the neighbourhood of each stepped
    code as a *candidate set* and lets the target net judge the real images:

    1. draw anchors among the labeled samples, preferring those the net fits worst
       (probability ``∝ uniform_weight + (1 - p_true)``, ``anchor_selection="loss"``)
       or uniformly (``"random"``);
    2. step each anchor's code along the normalized loss gradient through the
       decoder, ``z' = z + step_size * g/||g||`` (as SNN);
    3. take the ``n_candidates`` nearest *unlabeled* pool samples of each stepped code
       (``state.latent_index.kneighbors``);
    4. score the candidates by the entropy of ``state.net.predict_proba`` and give each
       anchor its most uncertain candidates, picks kept distinct across anchors.

    The net sees at most ``n_anchors * n_candidates`` candidates plus the labeled set
    per round: the cost does not grow with the pool (besides the index query).

    Parameters
    ----------
    step_size : float, default=1.0
        Latent step (as in SNN).
    n_anchors : int or None, default=None
        Anchors per round; ``None``: one per proposed sample.
    n_candidates : int, default=16
        Unlabeled real neighbours scored per stepped code.
    anchor_selection : {"loss", "random"}, default="loss"
    uniform_weight : float, default=0.5
        Floor of the anchor weights with ``"loss"``: 0 draws only misfit samples
        (when any), large values approach uniform draws.
    index : {"auto", "kdtree", "brute", "nndescent"}, default="auto"
        Nearest-neighbour backend of the estimator's latent index.
    batch_size : int, default=1024
        Samples per ``predict_proba`` call.

    Examples
    --------
    >>> from hardsample.samplers import LatentEntropySampler
    >>> LatentEntropySampler(n_candidates=8)  # doctest: +NORMALIZE_WHITESPACE
    LatentEntropySampler(step_size=1.0, n_anchors=None, n_candidates=8,
    anchor_selection='loss', uniform_weight=0.5, index='auto', batch_size=1024)
    """

    uses_latent_space = True

    def __init__(self, step_size=1.0, n_anchors=None, n_candidates=16, anchor_selection="loss",
                 uniform_weight=0.5, index="auto", batch_size=1024):
        self.step_size = step_size
        self.n_anchors = n_anchors
        self.n_candidates = n_candidates
        self.anchor_selection = anchor_selection
        self.uniform_weight = uniform_weight
        self.index = index
        self.batch_size = batch_size

    def _check_params(self):
        if self.anchor_selection not in ANCHOR_SELECTIONS:
            raise ValueError(f"anchor_selection must be one of {ANCHOR_SELECTIONS}, got "
                             f"{self.anchor_selection!r}.")
        w = self.uniform_weight
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not np.isfinite(w) or w < 0:
            raise ValueError(f"uniform_weight must be a non-negative number, got {w!r}.")
        return (check_step_size(self.step_size), check_n_anchors(self.n_anchors),
                check_n_candidates(self.n_candidates), check_batch_size(self.batch_size))

    def _anchors(self, state, n_anchors, random_state):
        n_labeled = len(state.y_labeled)
        if self.anchor_selection == "random":
            weights = np.ones(n_labeled)
        else:
            proba = predict_proba_batched(state.net, state.X_labeled, self.batch_size)
            p_true = proba[np.arange(n_labeled), np.asarray(state.y_labeled, dtype=np.int64)]
            weights = float(self.uniform_weight) + (1.0 - p_true)
            if not np.any(weights > 0):
                weights = np.ones(n_labeled)
        return draw_weighted_anchors(weights, n_anchors, random_state)

    def propose(self, state, n, random_state):
        step_size, n_anchors, n_candidates, batch_size = self._check_params()
        n = check_n(n, state.n_available)
        if n == 0:
            return Proposal(indices=np.empty(0, dtype=np.int64))
        if state.latent_index is None or state.generator is None:
            raise ValueError("LatentEntropySampler mines in a latent space: the estimator "
                             "needs a generator.")
        if len(state.y_labeled) == 0:
            raise ValueError("LatentEntropySampler needs labeled samples to anchor on.")
        n_anchors = min(n_anchors or n, n)
        anchors = self._anchors(state, n_anchors, random_state)
        stepped, _ = hardness_step(
            state.net, state.generator.decoder_,
            state.z_labeled[anchors], state.y_labeled[anchors], step_size,
        )
        counts = split_evenly(n, n_anchors)
        want = np.maximum(counts, n_candidates)

        # Candidates: nearest unlabeled real samples of each stepped code.
        index = state.latent_index
        n_excluded = int(state.excluded.sum())
        k = int(min(index.n_points_, want.max() + min(n_excluded, 4 * want.max())))
        neighbors, _ = index.kneighbors(stepped, k)
        candidates = []
        for row, wanted in zip(neighbors, want):
            row = row[(row >= 0)]
            row = row[~state.excluded[row]]
            candidates.append(row[:wanted])
        unique = np.unique(np.concatenate(candidates)) if candidates else np.empty(0, np.int64)
        proba = predict_proba_batched(state.net, state.X_pool[unique], batch_size)
        score = dict(zip(unique.tolist(), entropy(proba).tolist()))
        tie = dict(zip(unique.tolist(), random_state.permutation(len(unique)).tolist()))

        # Most uncertain first, globally; each anchor takes its best untaken candidates.
        pairs = [(score[c], tie[c], a, c) for a, row in enumerate(candidates) for c in row.tolist()]
        pairs.sort(key=lambda t: (-t[0], t[1]))
        taken = set()
        chosen = [[] for _ in range(n_anchors)]
        for _, _, a, c in pairs:
            if len(chosen[a]) < counts[a] and c not in taken:
                taken.add(c)
                chosen[a].append(c)
        # Anchors short of candidates: the best remaining candidates of any anchor,
        # then the nearest available samples of their stepped codes.
        leftovers = [(a, c) for _, _, a, c in pairs if c not in taken]
        for a in range(n_anchors):
            while len(chosen[a]) < counts[a] and leftovers:
                _, c = leftovers.pop(0)
                if c not in taken:
                    taken.add(c)
                    chosen[a].append(c)
        missing = counts - np.array([len(c) for c in chosen])
        if missing.any():
            excluded = state.excluded.copy()
            excluded[list(taken)] = True
            extra = index.nearest_available(stepped, excluded, missing)
            for a, c in zip(np.repeat(np.arange(n_anchors), missing), extra.tolist()):
                chosen[a].append(c)
        indices = np.asarray([c for group in chosen for c in group], dtype=np.int64)
        return Proposal(
            indices=indices,
            latent_codes=state.latent_codes[indices],
            anchors=np.repeat(anchors, counts),
        )
