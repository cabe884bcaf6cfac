"""The label ledger: the one owner of the labeled set.

Every paid label goes through :meth:`LabelLedger.record`: labeled pool indices,
synthetic inputs with their latent codes, encoded targets, failed samples and the
per-round :class:`RoundRecord` list all live here, and the rest of the package reads
them through the ledger (``mining_state``, ``training_set``, ``n_labeled``).
"""

import dataclasses
from collections.abc import Mapping
from typing import Optional

import numpy as np

from .samplers import MiningState


@dataclasses.dataclass(eq=False)
class RoundRecord(Mapping):
    """What one round did (an entry of ``history_``).

    Reads like a dict (``record["n_labeled"]``, ``set(record)``), and
    :meth:`to_dict` gives a plain dict for JSON.

    Attributes
    ----------
    round : int
        Round number, from 1.
    n_labeled : int
        Labels paid for and kept so far (real and synthetic).
    n_new : int
        Labels this round added.
    n_oracle_calls : int
        Samples sent to the oracle so far.
    n_failed : int
        Samples whose labeling failed so far.
    n_reused : int
        Labels taken from the oracle's journal instead of being paid for again.
    train_seconds, mining_seconds, labeling_seconds : float
        Wall-clock seconds of the round's training, mining (building the state and
        the sampler's work) and labeling.
    mining_split : dict of str to float
        The sampler's own stages in seconds (e.g. ``{"gradient": ..,
        "neighbors": .., "judging": ..}``); empty in round 1.
    score : float or None
        The net's score on a labeled validation set after this round's training,
        set by :class:`~hardsample.callbacks.EvaluateEachRound`; None without one.
    score_name : str or None
        What ``score`` is (e.g. ``"accuracy"``, ``"r2"`` or the ``scoring`` name).
    n_chosen : int, default=0
        Of ``n_new``, labels a person gave for samples outside the round's request
        (written into ``y`` by choice); the rest answered the request.
    n_pending : int, default=0
        Requested samples still awaiting labels when the round trained; they are
        carried into the next round's request.

    Examples
    --------
    >>> from hardsample._ledger import RoundRecord
    >>> record = RoundRecord(round=1, n_labeled=10, n_new=10, n_oracle_calls=10,
    ...                      n_failed=0, n_reused=0, train_seconds=0.5,
    ...                      mining_seconds=0.0, labeling_seconds=0.1, mining_split={})
    >>> record["n_labeled"], record.to_dict()["round"]
    (10, 1)
    """

    round: int
    n_labeled: int
    n_new: int
    n_oracle_calls: int
    n_failed: int
    n_reused: int
    train_seconds: float
    mining_seconds: float
    labeling_seconds: float
    mining_split: dict
    score: Optional[float] = None
    score_name: Optional[str] = None
    n_chosen: int = 0
    n_pending: int = 0

    def __getitem__(self, key):
        if key not in _RECORD_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(_RECORD_FIELDS)

    def __len__(self):
        return len(_RECORD_FIELDS)

    def to_dict(self):
        return dataclasses.asdict(self)


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(RoundRecord))


@dataclasses.dataclass(eq=False)
class RoundRequest:
    """A round that has drawn its seeds and asked for labels, and not trained yet.

    The state machine of a round: trained -> (propose) pending -> (answers arrive)
    labeled -> (train) trained. While a request is open, ``pending`` holds the
    requested pool indices still awaiting labels, in request order; the request is
    pickled with the ledger, so a new process resumes the round where it stopped.
    """

    round: int
    n_wanted: int
    rng: np.random.RandomState
    torch_seed: int
    mining_seed: int
    pending: np.ndarray
    attempts: int = 0  # proposals made so far (each gets its own seed)
    n_chosen: int = 0  # labels taken from outside the request


class LabelLedger:
    """The labeled set of one run.

    Parameters
    ----------
    n_pool : int
        Samples in the pool.
    sample_shape : tuple
        Shape of one sample.
    codec : ClassTargets or RegressionTargets
        Encodes each returned label into the form the net trains on.
    latent_codes : ndarray of shape (n_pool, latent_dim) or None
        The pool's codes, when the sampler mines in a latent space.
    encoder : callable or None
        ``encoder(X) -> codes`` for synthetic samples proposed without codes.
    """

    def __init__(self, n_pool, sample_shape, codec, latent_codes=None, encoder=None):
        self.codec = codec
        self.latent_codes = latent_codes
        self.encoder = encoder
        self.indices = np.empty(0, dtype=np.int64)
        self.targets_real = []
        self.X_synthetic = np.empty((0, *sample_shape), dtype=np.float32)
        self.z_synthetic = np.empty((0, self.latent_dim), dtype=np.float32)
        self.targets_synthetic = []
        self.excluded = np.zeros(n_pool, dtype=bool)
        self.failures = []
        self.records = []
        self.n_oracle_calls = 0
        self.request = None  # the open round (a RoundRequest), or None between rounds
        self.carried = np.empty(0, dtype=np.int64)  # still pending when the last round trained

    @property
    def latent_dim(self):
        return 0 if self.latent_codes is None else self.latent_codes.shape[1]

    @property
    def n_labeled(self):
        return len(self.targets_real) + len(self.targets_synthetic)

    @property
    def n_available(self):
        """Pool samples that may still be proposed (not labeled, not failed)."""
        return int((~self.excluded).sum())

    @property
    def n_new_this_round(self):
        """Labels kept since the last completed round (from an interrupted attempt)."""
        return self.n_labeled - (self.records[-1].n_labeled if self.records else 0)

    @property
    def pending(self):
        """Requested pool indices awaiting labels, in request order."""
        if self.request is not None:
            return self.request.pending.copy()
        return self.carried.copy()

    # --------------------------------------------------------------- requests
    def open_request(self, number, n_wanted, rng, torch_seed, mining_seed):
        """Open round ``number``; samples still pending from the last round stay pending."""
        self.request = RoundRequest(number, n_wanted, rng, torch_seed, mining_seed,
                                    pending=self.carried)
        self.carried = np.empty(0, dtype=np.int64)
        return self.request

    def close_request(self, record):
        """The open round trained: keep its record, carry what is still pending."""
        self.records.append(record)
        self.carried = self.request.pending
        self.request = None

    def drop_request(self):
        """Forget an open round with nothing pending (a failed attempt is retried afresh)."""
        if self.request is not None and not len(self.request.pending):
            self.request = None

    # ------------------------------------------------------------- recording
    def count_unanswered(self, n):
        """``n`` samples were sent to the oracle, and no usable answer came back."""
        self.n_oracle_calls += n

    def record(self, result, batch, round_number, indices=None, latent_codes=None):
        """Keep every label that came back for ``batch``; return how many were kept.

        Parameters
        ----------
        result : LabelingResult
            The oracle's answers; ``result.inputs``, when set, are the inputs the
            oracle actually labeled (e.g. a cleaned mask) and are stored instead of
            ``batch``.
        batch : ndarray
            The samples sent to the oracle.
        round_number : int
        indices : ndarray of int or None
            Their pool indices (None for synthetic samples).
        latent_codes : ndarray or None
            Codes of synthetic samples, as proposed.

        Samples in ``result.pending`` are neither labels nor failures: pool samples
        join the open request's ``pending`` (and no sampler proposes them again), and
        are not counted as oracle calls. A synthetic sample cannot wait (it exists
        only in this batch): it is counted and recorded as failed. Samples in
        ``result.unsent`` were never sent (the oracle stopped first): they are not
        counted, not failed, and pending ones stay pending.
        """
        waiting = set(getattr(result, "pending", ()) or ())
        # Never sent (the oracle stopped first): no cost, no failure, free to be proposed.
        unsent = set(getattr(result, "unsent", ()) or ())
        # A waiting pool sample is asked again later; a synthetic one fails now.
        self.n_oracle_calls += (len(batch) - len(unsent)
                                - (len(waiting) if indices is not None else 0))
        codec = self.codec
        codec.learn_shape([label for pos, label in enumerate(result.labels)
                           if pos not in result.errors and pos not in waiting | unsent])
        accepted, targets = [], []
        for pos, label in enumerate(result.labels):
            if pos in unsent:
                continue
            error = result.errors.get(pos)
            if pos in waiting:
                if indices is not None:
                    continue
                error = ("the labeling tool answered 'not yet' for a synthetic sample; only "
                         "pool samples can wait for labels")
            if error is None:
                target, error = codec.encode(label)
            if error is not None:
                self.failures.append({
                    "round": round_number,
                    "index": None if indices is None else int(indices[pos]),
                    "error": error,
                })
                if indices is not None:
                    self.excluded[indices[pos]] = True
                continue
            accepted.append(pos)
            targets.append(target)
        accepted = np.asarray(accepted, dtype=np.int64)
        if indices is not None:
            self._update_pending(indices, waiting, unsent)
            self.indices = np.concatenate([self.indices, indices[accepted]])
            self.excluded[indices[accepted]] = True
            self.targets_real.extend(targets)
        else:
            inputs = batch if getattr(result, "inputs", None) is None else result.inputs
            kept = np.asarray(inputs, dtype=np.float32)[accepted]
            self.X_synthetic = np.concatenate([self.X_synthetic, kept])
            self.z_synthetic = np.concatenate([self.z_synthetic,
                                               self._synthetic_codes(kept, latent_codes, accepted)])
            self.targets_synthetic.extend(targets)
        return len(accepted)

    def _update_pending(self, indices, waiting, unsent=()):
        waiting = np.asarray(sorted(waiting), dtype=np.int64)
        if self.request is None:
            if len(waiting):
                raise RuntimeError("a sample is pending but no round is open")
            return
        # Answered or failed samples leave the request; waiting ones join it once;
        # unsent ones stay as they were.
        not_answered = np.asarray(sorted(set(waiting.tolist()) | set(unsent)), dtype=np.int64)
        answered = np.setdiff1d(indices, indices[not_answered])
        pending = self.request.pending
        pending = pending[~np.isin(pending, answered)]
        new = indices[waiting]
        self.request.pending = np.concatenate([pending, new[~np.isin(new, pending)]])
        self.excluded[new] = True

    def _synthetic_codes(self, kept, latent_codes, accepted):
        if self.latent_dim == 0:
            return np.empty((len(kept), 0), dtype=np.float32)
        if latent_codes is not None:
            return np.asarray(latent_codes, dtype=np.float32)[accepted]
        if self.encoder is not None and len(kept):
            return np.asarray(self.encoder(kept), dtype=np.float32)
        # No code known: such a sample trains the net but is never an anchor.
        return np.full((len(kept), self.latent_dim), np.nan, dtype=np.float32)

    # ------------------------------------------------------------------ views
    def training_set(self, X_pool):
        """Every labeled input and its encoded target, real samples first."""
        X = np.concatenate([X_pool[self.indices], self.X_synthetic])
        return X, self.codec.stack(self.targets_real + self.targets_synthetic)

    def z_labeled(self):
        if self.latent_codes is None:
            return None
        return np.concatenate([self.latent_codes[self.indices], self.z_synthetic])

    def mining_state(self, X_pool, net, generator=None, latent_index=None):
        """The read-only :class:`~hardsample.samplers.MiningState` of the next proposal."""
        X_labeled, y_labeled = self.training_set(X_pool)
        return MiningState(
            X_pool=X_pool,
            latent_codes=self.latent_codes,
            excluded=self.excluded.copy(),
            X_labeled=X_labeled,
            y_labeled=self.codec.for_net(y_labeled),
            z_labeled=self.z_labeled(),
            net=net,
            generator=generator,
            latent_index=latent_index,
        )

    def real_targets(self):
        return self.codec.stack(self.targets_real)

    def synthetic_targets(self):
        return self.codec.stack(self.targets_synthetic)

    def failures_in_round(self, round_number):
        return [f for f in self.failures if f["round"] == round_number]
