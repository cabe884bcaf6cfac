"""One round of mining: propose -> label -> replace failures -> train -> record.

:class:`MiningRun` is what one ``fit`` builds (sampler, oracle, target codec, label
ledger, generator, latent codes and index, the trained net); :func:`run_round`
advances it by one round. The estimators only validate their input and call it.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from skorch.dataset import ValidSplit
from sklearn.base import clone

from ._ledger import LabelLedger, RoundRecord
from ._timing import Stopwatch
from ._torch import seed_from, torch_seeded
from .journal import JournalError
from .oracles import LabelingError

#: Replacement proposals tried in one round after labeling failures, before giving up.
MAX_REPLACEMENT_ATTEMPTS = 10


@dataclass
class MiningRun:
    """The state of one run of rounds (built by ``fit`` or the first ``partial_fit``)."""

    sampler: Any
    codec: Any
    ledger: LabelLedger
    net_template: Any
    retrain: str
    initial_size: int
    round_size: int
    rng: np.random.RandomState
    generator: Any = None
    latent_index: Any = None
    setup_seconds: dict = field(default_factory=dict)
    tool_oracle: Any = None  # a labeling tool is kept between partial_fit calls
    initial_sampler: Any = None  # round 1's sampler; None: the sampler's initial_proposal
    net: Any = None
    pool_fingerprint: Optional[str] = None
    labels_fingerprint: Optional[str] = None

    @property
    def n_rounds_done(self):
        return len(self.ledger.records)


def run_round(run, X, oracle):
    """Run the next round on pool ``X`` with ``oracle``; return its :class:`RoundRecord`."""
    ledger = run.ledger
    number = run.n_rounds_done + 1
    round_rng = np.random.RandomState(seed_from(run.rng))
    torch_seed, mining_seed = seed_from(round_rng), seed_from(round_rng)
    n_wanted = run.initial_size if number == 1 else run.round_size
    # Labels kept from an earlier attempt at this round that ended in a LabelingError
    # count towards it: retrying the round completes it.
    n_new = ledger.n_new_this_round
    _check_pool_left(run, number, n_wanted - n_new)
    watch, mining_split = Stopwatch(), {}
    # The oracle's failure budget spans the round's replacement proposals.
    if callable(getattr(oracle, "begin_round", None)):
        oracle.begin_round(n_wanted - n_new)
    for attempt in range(MAX_REPLACEMENT_ATTEMPTS + 1):
        if n_new >= n_wanted:
            break
        if attempt > 0 and not _replacements_possible(run, n_wanted - n_new):
            break
        with watch("mining"):
            proposal = _propose(run, X, number, n_wanted - n_new, round_rng,
                                seed=mining_seed + attempt)
        for stage, seconds in (proposal.timings or {}).items():
            mining_split[stage] = mining_split.get(stage, 0.0) + seconds
        with watch("labeling"):
            try:
                n_new += _label(run, X, oracle, proposal, number)
            except LabelingError as exc:  # the oracle's failure budget is spent
                if not hasattr(exc, "n_new"):
                    raise
                raise _labeling_failed(run, number, n_wanted, n_new + exc.n_new,
                                       budget_spent=True) from exc
    if callable(getattr(oracle, "end_round", None)):
        oracle.end_round()
    if n_new < n_wanted:
        raise _labeling_failed(run, number, n_wanted, n_new)

    with watch("training"):
        _train(run, X, torch_seed, first=number == 1)
    record = RoundRecord(
        round=number,
        n_labeled=ledger.n_labeled,
        n_new=n_new,
        n_oracle_calls=ledger.n_oracle_calls,
        n_failed=len(ledger.failures),
        n_reused=int(getattr(oracle, "n_reused_", 0)),
        train_seconds=watch.seconds["training"],
        mining_seconds=watch.seconds.get("mining", 0.0),
        labeling_seconds=watch.seconds.get("labeling", 0.0),
        mining_split=mining_split,
    )
    ledger.records.append(record)
    return record


def make_net(template, codec):
    """A clone of the user's net, set up for active learning and the targets."""
    net = clone(template)
    overrides = {}
    # skorch holds out 20 % of the data for validation by default: with the tiny
    # labeled sets of active learning, every label should train the net.
    if type(net.train_split) is ValidSplit and net.train_split.cv == 5:
        overrides["train_split"] = None
    # skorch does not shuffle by default; labels arrive grouped by round.
    if not hasattr(net, "iterator_train__shuffle"):
        overrides["iterator_train__shuffle"] = True
    overrides.update(codec.module_overrides(net))
    return net.set_params(**overrides)


# ------------------------------------------------------------------ the steps
def _propose(run, X, number, n, round_rng, seed):
    state = run.ledger.mining_state(X, run.net, run.generator, run.latent_index)
    if number > 1:
        propose = run.sampler.propose
    elif run.initial_sampler is not None:
        propose = run.initial_sampler.propose
    else:
        propose = run.sampler.initial_proposal
    # skorch's data loaders draw from torch's global RNG even when predicting.
    with torch_seeded(seed, run.net_template.device):
        return propose(state, n, round_rng)


def _label(run, X, oracle, proposal, number):
    """Send a proposal to the oracle; the ledger keeps every label that came back."""
    if proposal.indices is not None:
        indices = _check_proposed_indices(run, proposal.indices)
        batch = X[indices]
        result, stopped = _ask(oracle, batch, indices)
    else:
        if not getattr(oracle, "can_label_synthetic", False):
            raise TypeError(
                f"{type(run.sampler).__name__} proposes synthetic samples, which only a "
                "labeling tool can label: pass oracle=<callable> instead of y."
            )
        indices = None
        batch = np.asarray(proposal.X, dtype=np.float32)
        result, stopped = _ask(oracle, batch, None)
    if len(result.labels) != len(batch):
        run.ledger.count_unanswered(len(batch))
        raise LabelingError(
            f"The oracle answered {len(result.labels)} labels for {len(batch)} samples."
        )
    n_new = run.ledger.record(result, batch, number, indices=indices,
                              latent_codes=proposal.latent_codes)
    if stopped is not None:  # the labels it paid for are kept in the ledger first
        stopped.n_new = n_new
        raise stopped
    return n_new


def _ask(oracle, batch, indices):
    """``oracle.label``: ``(result, None)``, or ``(the result so far, the error)`` when
    the oracle stopped (failure budget spent, journal error) after paying for labels."""
    try:
        if indices is None:
            return oracle.label(batch), None
        return oracle.label(batch, indices=indices), None
    except (LabelingError, JournalError) as exc:
        result = getattr(exc, "result", None)
        if result is None or len(result.labels) != len(batch):
            raise
        return result, exc


def _check_proposed_indices(run, indices):
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise TypeError(f"The sampler proposed indices of shape {indices.shape} and dtype "
                        f"{indices.dtype}; expected a 1-D int array.")
    indices = indices.astype(np.int64)
    excluded = run.ledger.excluded
    if len(indices) and (indices.min() < 0 or indices.max() >= len(excluded)):
        raise ValueError("The sampler proposed pool indices out of range.")
    if len(np.unique(indices)) != len(indices) or excluded[indices].any():
        raise ValueError(
            f"{type(run.sampler).__name__} proposed an already labeled, failed or "
            "duplicate pool sample; a sampler must propose distinct unlabeled samples."
        )
    return indices


def _train(run, X, torch_seed, first):
    X_train, y_train = run.ledger.training_set(X)
    codec = run.codec
    with torch_seeded(torch_seed, run.net_template.device):
        if run.net is None:
            run.net = make_net(run.net_template, codec)
            codec.probe(run.net, X_train[:1])
        if first or run.retrain == "scratch":
            run.net.fit(X_train, codec.for_net(y_train))
        else:
            run.net.partial_fit(X_train, codec.for_net(y_train))
        if first:
            codec.check_output(run.net, X_train[:1])


# ------------------------------------------------------------------ failures
def _check_pool_left(run, number, n_missing):
    if not run.sampler.synthesizes and n_missing > run.ledger.n_available:
        raise ValueError(
            f"Round {number} needs {n_missing} new labels but only "
            f"{run.ledger.n_available} pool samples are left unlabeled."
        )


def _replacements_possible(run, n_missing):
    return run.sampler.synthesizes or n_missing <= run.ledger.n_available


def _labeling_failed(run, number, n_wanted, n_new, budget_spent=False):
    failed = run.ledger.failures_in_round(number)
    reasons = "; ".join(f["error"] for f in failed[-3:]) or "no reason recorded"
    why = ("its failure budget (max_failures) is spent, so nothing more was sent"
           if budget_spent else "the pool has no more candidates or the retries ran out")
    return LabelingError(
        f"Round {number} got {n_new} of the {n_wanted} labels it needs; the oracle failed "
        f"on {len(failed)} samples and {why}. Last errors: {reasons}. The "
        f"{run.ledger.n_labeled} labels already paid for are kept (labeled_indices_, "
        "y_synthetic_); failures are in failed_labels_."
    )
