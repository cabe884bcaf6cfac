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
from .samplers import Proposal

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
    initial_from_labels: bool = False  # initial="labeled": round 1 is the labels in hand
    stopped: bool = False  # stop_when said stop after the last round
    net: Any = None
    pool_fingerprint: Any = None  # a _pool.PoolFingerprint
    labels_fingerprint: Optional[str] = None

    @property
    def n_rounds_done(self):
        return len(self.ledger.records)


def run_round(run, X, oracle, known=None, may_train=True):
    """Advance the run by one round, as far as it can go without waiting for labels.

    A round is a small state machine kept in the ledger (``ledger.request``):
    trained -> pending -> labeled -> trained. Without an open request, the next round
    draws its seeds, proposes and asks the oracle; with one (a request that waited
    for labels), the oracle is asked again for the pending samples only, and every
    label in ``y`` that the run does not hold yet (``known``) is taken too.

    Parameters
    ----------
    run : MiningRun
    X : pool samples
    oracle : oracle object
    known : ndarray of bool or None
        Where ``y`` holds a label (None: labels come from a tool).
    may_train : bool, default=True
        False: stop once the round has asked for its labels, even when all came back.

    Returns
    -------
    RoundRecord or None
        The round's record once it trained; None while it waits: requested samples
        await labels (``run.ledger.pending``), or ``may_train`` is False. A round
        that asked and then gets new labels trains on what came even if some
        requested samples are still pending; those are carried into the next request.
    """
    ledger = run.ledger
    watch, mining_split = Stopwatch(), {}
    fresh = ledger.request is None
    if fresh:
        request = _open_round(run, known)
        n_arrived = 0
    else:
        request = ledger.request
        n_before = ledger.n_labeled
        with watch("labeling"):
            _ask_again(run, X, oracle, request)
            _take_chosen(run, X, oracle, known, request)
        n_arrived = ledger.n_labeled - n_before
    number = request.round
    try:
        n_new = ledger.n_new_this_round
        if fresh:
            _check_pool_left(run, number, request.n_wanted - n_new - len(request.pending))
        # The oracle's failure budget spans the round's replacement proposals.
        if callable(getattr(oracle, "begin_round", None)):
            oracle.begin_round(request.n_wanted - n_new)
        for _ in range(MAX_REPLACEMENT_ATTEMPTS + 1):
            n_missing = request.n_wanted - n_new - len(request.pending)
            if n_missing <= 0:
                break
            # A fresh round's first proposal passed _check_pool_left; a resumed round's
            # failures may outnumber the samples left, and then it fails as a retry does.
            if not _replacements_possible(run, n_missing):
                break
            with watch("mining"):
                proposal = _propose(run, X, number, n_missing, request, known)
            request.attempts += 1
            for stage, seconds in (proposal.timings or {}).items():
                mining_split[stage] = mining_split.get(stage, 0.0) + seconds
            with watch("labeling"):
                try:
                    n_new += _label(run, X, oracle, proposal, number)
                except LabelingError as exc:  # the oracle's failure budget is spent
                    if not hasattr(exc, "n_new"):
                        raise
                    raise _labeling_failed(run, number, request.n_wanted, n_new + exc.n_new,
                                           budget_spent=True) from exc
        if callable(getattr(oracle, "end_round", None)):
            oracle.end_round()
    except BaseException:
        ledger.drop_request()  # nothing waits: a retry draws the round afresh, as before
        raise
    if len(request.pending):
        if fresh or n_arrived == 0:
            return None
    elif n_new < request.n_wanted:
        ledger.drop_request()
        raise _labeling_failed(run, number, request.n_wanted, n_new)
    if not may_train:
        return None

    with watch("training"):
        _train(run, X, request.torch_seed, first=number == 1)
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
        n_chosen=request.n_chosen,
        n_pending=len(request.pending),
    )
    ledger.close_request(record)
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
def _open_round(run, known):
    """Draw the next round's seeds and open its request in the ledger."""
    number = run.n_rounds_done + 1
    # Drawn from run.rng in the same order as every round before pauses existed, so a
    # run that waits for people selects what a one-shot run with the same seed does.
    round_rng = np.random.RandomState(seed_from(run.rng))
    torch_seed, mining_seed = seed_from(round_rng), seed_from(round_rng)
    if number == 1 and run.initial_from_labels:
        n_wanted = int((known & ~run.ledger.excluded).sum())
    else:
        n_wanted = run.initial_size if number == 1 else run.round_size
    return run.ledger.open_request(number, n_wanted, round_rng, torch_seed, mining_seed)


def _ask_again(run, X, oracle, request):
    """Ask the oracle again for the samples of ``request`` that are still pending."""
    indices = request.pending.copy()
    if len(indices):
        _label_pool(run, X, oracle, indices, request.round)


def _take_chosen(run, X, oracle, known, request):
    """Take the labels a person wrote into ``y`` for samples nobody requested."""
    if known is None:
        return
    chosen = np.flatnonzero(known & ~run.ledger.excluded)
    if len(chosen):
        request.n_chosen += _label_pool(run, X, oracle, chosen, request.round)


def _propose(run, X, number, n, request, known):
    if number == 1 and run.initial_from_labels:
        # initial="labeled": round 1 is the labels in hand, with no draw.
        return Proposal(indices=np.flatnonzero(known & ~run.ledger.excluded)[:n])
    seed = request.mining_seed + request.attempts
    round_rng = request.rng
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
        return _label_pool(run, X, oracle, _check_proposed_indices(run, proposal.indices),
                           number)
    if not getattr(oracle, "can_label_synthetic", False):
        raise TypeError(
            f"{type(run.sampler).__name__} proposes synthetic samples, which only a "
            "labeling tool can label: pass oracle=<callable> instead of y."
        )
    batch = np.asarray(proposal.X, dtype=np.float32)
    return _keep(run, oracle, batch, number, None, proposal.latent_codes)


def _label_pool(run, X, oracle, indices, number):
    """Ask the oracle for pool samples ``indices`` (checked); keep what came back."""
    batch = X[indices]
    return _keep(run, oracle, batch, number, indices, None)


def _keep(run, oracle, batch, number, indices, latent_codes):
    """Ask ``oracle`` for ``batch``; the ledger keeps every label that came back."""
    result, stopped = _ask(oracle, batch, indices)
    if len(result.labels) != len(batch):
        run.ledger.count_unanswered(len(batch))
        raise LabelingError(
            f"The oracle answered {len(result.labels)} labels for {len(batch)} samples."
        )
    n_new = run.ledger.record(result, batch, number, indices=indices,
                              latent_codes=latent_codes)
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
        f"{run.ledger.n_labeled} labels already paid for are kept ({_kept_attributes(run)}); "
        "failures are in failed_labels_."
    )


def _kept_attributes(run):
    """Where the labels paid for can be read (only the regressor has y_synthetic_)."""
    if not run.sampler.synthesizes:
        return "labeled_indices_, y_labeled_"
    if hasattr(run.codec, "classes_"):
        return "labeled_indices_, y_labeled_, X_synthetic_"
    return "labeled_indices_, y_labeled_, X_synthetic_, y_synthetic_"
