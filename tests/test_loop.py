"""The round loop, pinned: the same seed gives the same selections as before the
loop was rebuilt around the label ledger (recorded on digits with the pre-ledger
estimator, for every sampler registered then)."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit

from hardsample import (
    DatasetOracle,
    LabelingError,
    LatentHardMiningClassifier,
    LatentHardMiningRegressor,
    LabelingToolOracle,
)
from hardsample._loop import MAX_REPLACEMENT_ATTEMPTS
from hardsample.generators import PCAGenerator
from hardsample.nets import MLP
from hardsample.oracles import NotLabeledYet
from hardsample.samplers import Proposal, RandomSampler

from .conftest import make_classifier_net, make_regressor_net

ROUND_1 = [69, 176, 239, 315, 323, 587, 660, 805, 914, 1226, 1269, 1313, 1328, 1344, 1345, 1505, 1591, 1712, 1713, 1715]

#: labeled_indices_ of rounds 2 and 3 (10 + 10), per pool sampler.
POOL_PICKS = {
    "coreset": [298, 84, 689, 226, 1569, 336, 617, 1708, 1290, 601, 1473, 70, 91, 1705, 771, 907, 951, 1281, 1106, 897],
    "entropy": [685, 675, 447, 665, 715, 1308, 403, 765, 151, 719, 1127, 260, 280, 1467, 1661, 946, 367, 1779, 1559, 111],
    "latent-entropy": [607, 24, 10, 1177, 539, 1597, 1361, 267, 579, 341, 1553, 1405, 1664, 1435, 1557, 583, 674, 1412, 482, 1592],
    "latent-margin": [1486, 1127, 402, 1563, 291, 1040, 1113, 466, 1678, 1400, 753, 94, 1072, 1637, 1592, 304, 420, 825, 255, 324],
    "margin": [1657, 313, 1040, 181, 1486, 61, 775, 1528, 1295, 461, 420, 335, 1359, 1527, 515, 770, 1468, 51, 1158, 838],
    "nearest": [504, 1652, 475, 267, 9, 1453, 1361, 1757, 1333, 420, 731, 874, 341, 1774, 1440, 1598, 11, 574, 288, 530],
    "random": [58, 103, 224, 292, 489, 1101, 1229, 1262, 1354, 1536, 126, 188, 681, 759, 764, 905, 1043, 1049, 1701, 1711],
}

#: Row sums of the 10 synthetic samples of round 2, per synthesizing sampler.
SYNTHETIC_ROUND_2 = {
    "interpolation": [19.278, 19.325, 19.29, 19.376, 19.453, 19.475, 19.209, 19.252, 19.58, 19.306],
    "prior": [19.333, 19.621, 19.692, 19.424, 19.744, 19.367, 19.402, 19.733, 19.506, 19.669],
}

BUDGET = dict(initial_size=20, round_size=10, n_rounds=3, random_state=0)


@pytest.mark.parametrize("sampler", sorted(POOL_PICKS))
def test_pool_sampler_selections_are_pinned(digits, sampler):
    X, y = digits
    net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-2, max_epochs=3, verbose=0)
    clf = LatentHardMiningClassifier(net, PCAGenerator(n_components=3), sampler=sampler,
                                     **BUDGET).fit(X, y)
    assert clf.labeled_indices_[:20].tolist() == ROUND_1
    assert clf.labeled_indices_[20:].tolist() == POOL_PICKS[sampler]


@pytest.mark.parametrize("sampler", sorted(SYNTHETIC_ROUND_2))
def test_synthesizing_sampler_selections_are_pinned(digits, sampler):
    X, _ = digits
    net = NeuralNetRegressor(MLP, optimizer=torch.optim.Adam, lr=1e-2, max_epochs=3, verbose=0)
    # clip=False: the decodes as they were when pinned (clipping to the data's range came
    # later, with the vessel masks, and changes what is decoded, not what is selected)
    reg = LatentHardMiningRegressor(net, PCAGenerator(n_components=3, clip=False),
                                    sampler=sampler, **BUDGET).fit(
        X, oracle=lambda batch: batch.sum(axis=1))
    assert len(reg.X_synthetic_) == 40 and len(reg.labeled_indices_) == 0
    np.testing.assert_allclose(reg.X_synthetic_[20:30].sum(axis=1), SYNTHETIC_ROUND_2[sampler],
                               atol=2e-3)


# ------------------------------------------------------------ the loop's own rules
# Small, fast runs (random sampler, one-epoch nets) that pin what run_round decides:
# which proposals it accepts, when it proposes replacements, what a failed round says,
# and how a round that waited for labels resumes.
N_POOL = 60


@pytest.fixture(scope="module")
def small(digits):
    X, y = digits
    return X[:N_POOL], y[:N_POOL]


def _random_clf(**kwargs):
    params = dict(sampler="random", initial_size=10, round_size=5, n_rounds=2, random_state=0)
    params.update(kwargs)
    return LatentHardMiningClassifier(make_classifier_net(max_epochs=1), **params)


class _FixedProposals(RandomSampler):
    """Round 1 as RandomSampler; later rounds propose ``proposals`` (one per call)."""

    def __init__(self, proposals=()):
        self.proposals = proposals

    def _propose(self, state, n, random_state):
        return Proposal(indices=self.proposals[0])


class _ProposesLabeled(RandomSampler):
    """Round 1 as RandomSampler; later rounds propose a sample already labeled."""

    def _propose(self, state, n, random_state):
        return Proposal(indices=np.flatnonzero(state.excluded)[:1])


class _OneAtATime(RandomSampler):
    """Proposes a single sample whatever the number asked for (a sampler bug)."""

    def _propose(self, state, n, random_state):
        return Proposal(indices=state.available_indices[:1])


class _FailsOn(DatasetOracle):
    """Hidden labels, except that the samples at ``positions`` of call ``call`` fail."""

    def __init__(self, y, call=1, positions=()):
        super().__init__(y)
        self.call, self.positions, self.n_calls = call, positions, 0

    def label(self, X, indices=None):
        self.n_calls += 1
        result = super().label(X, indices=indices)
        if self.n_calls == self.call:
            for pos in self.positions:
                result.errors[pos] = f"no label for sample {int(indices[pos])}"
                result.labels[pos] = None
        return result


@pytest.mark.parametrize("proposal, error, match", [
    (np.array([[0, 1], [2, 3]]), TypeError,
     r"^The sampler proposed indices of shape \(2, 2\) and dtype int64; expected a 1-D int array\.$"),
    (np.array([0.0, 1.0]), TypeError, r"of shape \(2,\) and dtype float64; expected a 1-D int"),
    (np.array([-1]), ValueError, r"^The sampler proposed pool indices out of range\.$"),
    (np.array([N_POOL]), ValueError, r"^The sampler proposed pool indices out of range\.$"),
    (np.array([N_POOL - 1, N_POOL - 1]), ValueError,
     r"^_FixedProposals proposed an already labeled, failed or duplicate pool sample; a "
     r"sampler must propose distinct unlabeled samples\.$"),
])
def test_a_bad_proposal_fails_before_any_label_is_paid(small, proposal, error, match):
    X, y = small
    clf = _random_clf(sampler=_FixedProposals([proposal]))
    clf.partial_fit(X, y)
    paid = clf.n_oracle_calls_
    with pytest.raises(error, match=match):
        clf.partial_fit(X, y)
    assert clf.n_oracle_calls_ == paid == 10 and len(clf.history_) == 1


def test_an_already_labeled_proposal_is_refused(small):
    X, y = small
    clf = _random_clf(sampler=_ProposesLabeled())
    clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="^_ProposesLabeled proposed an already labeled"):
        clf.partial_fit(X, y)
    assert clf.n_oracle_calls_ == 10


def test_failures_are_replaced_even_by_the_last_samples_left(small):
    X, y = small
    # Round 1 wants 10 of 12 samples and 2 of them fail: the 2 samples left exactly
    # make up the shortfall, so they are proposed.
    oracle = _FailsOn(y[:12], call=1, positions=(3, 7))
    clf = _random_clf(initial_size=10, n_rounds=1).fit(X[:12], oracle=oracle, classes=range(10))
    assert len(clf.labeled_indices_) == 10 and oracle.n_calls == 2
    assert len(clf.failed_labels_) == 2 and all(f["round"] == 1 for f in clf.failed_labels_)
    record = clf.history_[0]
    assert (record["n_new"], record["n_oracle_calls"], record["n_failed"]) == (10, 12, 2)
    assert sorted(clf.labeled_indices_.tolist() + [f["index"] for f in clf.failed_labels_]) \
        == list(range(12))


def test_a_round_short_of_candidates_says_why_and_what_is_kept(small):
    X, y = small
    oracle = _FailsOn(y[:11], call=1, positions=(1, 2, 5, 8))
    clf = _random_clf(initial_size=10, n_rounds=1)
    with pytest.raises(LabelingError) as caught:
        clf.fit(X[:11], oracle=oracle, classes=range(10))
    reasons = [f["error"] for f in clf.failed_labels_]
    assert len(reasons) == 4 and len(set(reasons)) == 4
    # Only the last three reasons are listed.
    assert str(caught.value) == (
        "Round 1 got 6 of the 10 labels it needs; the oracle failed on 4 samples and the "
        "pool has no more candidates or the retries ran out. Last errors: "
        f"{'; '.join(reasons[-3:])}. The 6 labels already paid for are kept "
        "(labeled_indices_, y_labeled_); failures are in failed_labels_.")
    assert oracle.n_calls == 1  # the single sample left cannot make up for four


def test_a_sampler_proposing_too_few_gets_ten_more_tries(small):
    X, y = small
    clf = _random_clf(sampler=_OneAtATime(), initial_size=5, round_size=15)
    clf.partial_fit(X, y)
    with pytest.raises(LabelingError) as caught:
        clf.partial_fit(X, y)
    # one proposal and MAX_REPLACEMENT_ATTEMPTS replacements, one sample each
    assert len(clf.labeled_indices_) == 5 + 1 + MAX_REPLACEMENT_ATTEMPTS
    assert str(caught.value).startswith(
        f"Round 2 got {1 + MAX_REPLACEMENT_ATTEMPTS} of the 15 labels it needs; the oracle "
        "failed on 0 samples and the pool has no more candidates or the retries ran out. "
        "Last errors: no reason recorded. The 16 labels already paid for are kept")


class _Synthesizes(RandomSampler):
    """Round 1 from the pool; later rounds propose shifted copies of pool rows (float64)."""

    synthesizes = True

    def _propose(self, state, n, random_state):
        return Proposal(X=np.asarray(state.X_pool[:n], dtype=np.float64) + 0.5)


def _always_fails(X):
    raise RuntimeError("solver crashed")


@pytest.mark.parametrize("estimator, sampler, attributes", [
    ("classifier", _Synthesizes(), "labeled_indices_, y_labeled_, X_synthetic_"),
    ("regressor", _Synthesizes(), "labeled_indices_, y_labeled_, X_synthetic_, y_synthetic_"),
    ("regressor", RandomSampler(), "labeled_indices_, y_labeled_"),
])
def test_a_spent_failure_budget_names_where_the_paid_labels_are(small, estimator, sampler,
                                                                attributes):
    X, _ = small
    if estimator == "classifier":
        est, extra = _random_clf(sampler=sampler, n_rounds=1), dict(classes=range(10))
    else:
        est, extra = LatentHardMiningRegressor(make_regressor_net(max_epochs=1), sampler=sampler,
                                               initial_size=10, n_rounds=1), {}
    with pytest.raises(LabelingError) as caught:
        # one call for the whole batch, which fails: nothing more is sent
        est.fit(X, oracle=LabelingToolOracle(_always_fails, max_retries=0, max_failures=0,
                                             chunk_size=10), **extra)
    assert str(caught.value) == (
        "Round 1 got 0 of the 10 labels it needs; the oracle failed on 10 samples and its "
        "failure budget (max_failures) is spent, so nothing more was sent. Last errors: "
        + "; ".join(["RuntimeError: solver crashed"] * 3) + ". The 0 labels already paid "
        f"for are kept ({attributes}); failures are in failed_labels_.")


# ------------------------------------------------------- a round that waits for people
def test_a_resumed_round_takes_answers_and_chosen_labels_and_carries_the_rest(small):
    X, y_full = small
    clf = _random_clf(initial_size=10, round_size=5)
    y = np.full(len(X), -1)
    with pytest.warns(UserWarning, match="10 requested samples await labels"):
        clf.partial_fit(X, y, classes=range(10))
    requested = clf.pending_
    assert len(requested) == 10 and clf.n_oracle_calls_ == 0
    # Six answers to the request, and two labels nobody asked for.
    chosen = np.setdiff1d(np.arange(len(X)), requested)[[0, 7]]
    y[requested[:6]] = y_full[requested[:6]]
    y[chosen] = y_full[chosen]
    with pytest.warns(UserWarning, match="5 requested samples await labels"):
        clf.partial_fit(X, y)
    record = clf.history_[0]
    assert (record["n_new"], record["n_chosen"], record["n_pending"]) == (8, 2, 4)
    # the labels came in by asking again; nothing was proposed
    assert record["labeling_seconds"] > 0 and record["mining_seconds"] == 0.0
    assert record["mining_split"] == {} and record["n_reused"] == 0
    assert (record["round"], record["n_labeled"], record["n_oracle_calls"]) == (1, 8, 8)
    np.testing.assert_array_equal(clf.labeled_indices_, np.r_[requested[:6], chosen])
    np.testing.assert_array_equal(clf.y_labeled_, y_full[clf.labeled_indices_])
    assert clf.n_oracle_calls_ == 8 and clf.failed_labels_ == []
    # The next request: the four still pending, then one new sample (5 - 4).
    assert len(clf.pending_) == 5
    np.testing.assert_array_equal(clf.pending_[:4], requested[6:])


ANSWERS = {}


def _person(X, indices):
    """Answers the samples in ANSWERS (None: cannot be labeled); 'not yet' for others."""
    if not all(int(i) in ANSWERS for i in indices):
        raise NotLabeledYet("waiting")
    if any(ANSWERS[int(i)] is None for i in indices):
        raise RuntimeError("unreadable image")
    return [ANSWERS[int(i)] for i in indices]


def test_a_tool_is_asked_again_for_the_pending_samples_of_their_round(small):
    X, y_full = small
    ANSWERS.clear()
    clf = _random_clf(initial_size=10, round_size=5)
    oracle = LabelingToolOracle(_person, max_retries=0)
    with pytest.warns(UserWarning, match="10 requested samples await labels"):
        clf.partial_fit(X, oracle=oracle, classes=range(10))
    requested = clf.pending_
    ANSWERS.update({int(i): int(y_full[i]) for i in requested})
    ANSWERS[int(requested[3])] = None
    with pytest.warns(UserWarning, match="5 requested samples await labels"):
        clf.partial_fit(X)
    # The failure belongs to round 1; its replacement waits, and the round trained on 9.
    assert clf.failed_labels_ == [
        {"round": 1, "index": int(requested[3]), "error": "RuntimeError: unreadable image"}]
    record = clf.history_[0]
    assert (record["n_new"], record["n_chosen"], record["n_pending"]) == (9, 0, 1)
    np.testing.assert_array_equal(clf.labeled_indices_, np.delete(requested, 3))
    assert clf.n_oracle_calls_ == 10


def test_samples_a_stopped_tool_never_got_are_not_failures_nor_paid(small):
    X, _ = small
    oracle = LabelingToolOracle(_always_fails, max_retries=0)  # one sample per call
    clf = _random_clf(initial_size=10, n_rounds=1)
    with pytest.raises(LabelingError, match="failed on 11 samples and its failure budget"):
        clf.fit(X, oracle=oracle, classes=range(10))
    # Ten failures fill the budget (one per wanted label); the replacement proposal's
    # first call goes over it, and its nine other samples are never sent.
    assert oracle.n_queries_ == clf.n_oracle_calls_ == len(clf.failed_labels_) == 11
    assert {f["error"] for f in clf.failed_labels_} == {"RuntimeError: solver crashed"}


def test_rounds_may_take_the_last_pool_samples_and_no_more(small):
    X, y = small
    clf = _random_clf(initial_size=10, round_size=2, n_rounds=1)
    clf.partial_fit(X[:12], y[:12])
    clf.partial_fit(X[:12], y[:12])  # the two samples left
    assert sorted(clf.labeled_indices_.tolist()) == list(range(12))
    with pytest.raises(ValueError) as caught:
        clf.partial_fit(X[:12], y[:12])
    assert str(caught.value) == ("Round 3 needs 2 new labels but only 0 pool samples are "
                                 "left unlabeled.")
    assert clf.n_oracle_calls_ == 12 and len(clf.history_) == 2


def test_initial_labeled_round_one_is_the_labels_in_hand(small):
    X, y_full = small
    in_hand = np.array([3, 10, 20, 33, 47])
    y = np.full(len(X), -1)
    y[in_hand] = y_full[in_hand]
    with pytest.warns(UserWarning, match="4 requested samples await labels"):
        clf = _random_clf(initial="labeled", round_size=4).fit(X, y)
    np.testing.assert_array_equal(clf.labeled_indices_, in_hand)
    assert clf.history_[0]["n_new"] == 5 and clf.n_oracle_calls_ == 5
    assert len(clf.pending_) == 4 and not np.isin(clf.pending_, in_hand).any()
    # every sample labeled: round 1 is the whole pool
    everything = _random_clf(initial="labeled", n_rounds=1).fit(X[:15], y_full[:15])
    np.testing.assert_array_equal(everything.labeled_indices_, np.arange(15))


BATCHES = []


def _sum_tool(X):
    BATCHES.append(X.dtype)
    return X.reshape(len(X), -1).sum(axis=1)


def test_synthetic_samples_go_to_the_tool_as_float32_and_never_to_hidden_labels(small):
    X, _ = small
    BATCHES.clear()
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=1), sampler=_Synthesizes(),
                                    initial_size=5, round_size=3, random_state=0)
    reg.partial_fit(X, oracle=_sum_tool)
    reg.partial_fit(X, oracle=_sum_tool)
    assert len(reg.X_synthetic_) == 3 and set(BATCHES) == {np.dtype(np.float32)}
    np.testing.assert_allclose(reg.y_synthetic_, reg.X_synthetic_.sum(axis=1), rtol=1e-5)
    with pytest.raises(TypeError) as caught:
        reg.partial_fit(X, X.sum(axis=1))
    assert str(caught.value) == (
        "_Synthesizes proposes synthetic samples, which only a labeling tool can label: "
        "pass oracle=<callable> instead of y.")


SEEDS = []


class _TimedRandom(RandomSampler):
    """RandomSampler that reports a fixed 'judging' time and records torch's seed."""

    def _propose(self, state, n, random_state):
        SEEDS.append(torch.initial_seed())
        return Proposal(indices=super()._propose(state, n, random_state).indices,
                        timings={"judging": 0.25})


def test_each_replacement_proposal_gets_its_own_seed_and_its_time_is_summed(small):
    X, y = small
    SEEDS.clear()
    # round 2 asks for 5; two of the first proposal's fail, then one of the second's
    oracle = _FailsOn(y, call=2, positions=(0, 4))
    oracle.label = _fail_again(oracle.label, call=3, position=1)
    clf = _random_clf(sampler=_TimedRandom(), initial_size=10, round_size=5)
    clf.fit(X, oracle=oracle, classes=range(10))
    record = clf.history_[1]
    assert (record["n_new"], record["n_failed"], record["n_oracle_calls"]) == (5, 3, 18)
    assert len(SEEDS) == 3 and SEEDS[1] == SEEDS[0] + 1 and SEEDS[2] == SEEDS[0] + 2
    assert record["mining_split"] == {"judging": 0.75}
    assert record["mining_seconds"] > 0 and record["labeling_seconds"] > 0
    assert clf.history_[0]["mining_split"] == {}  # round 1 is a random draw


def _fail_again(label, call, position):
    def wrapped(X, indices=None):
        result = label(X, indices=indices)
        owner = label.__self__
        if owner.n_calls == call:
            result.errors[position] = "failed again"
            result.labels[position] = None
        return result
    return wrapped


def _labels_three_then_fails(X):
    _labels_three_then_fails.calls += 1
    if _labels_three_then_fails.calls > 3:
        raise RuntimeError("solver crashed")
    return [0]


def test_labels_paid_before_the_budget_ran_out_count_for_the_round(small):
    X, _ = small
    _labels_three_then_fails.calls = 0
    oracle = LabelingToolOracle(_labels_three_then_fails, max_retries=0, max_failures=2)
    clf = _random_clf(initial_size=10, n_rounds=1)
    with pytest.raises(LabelingError) as caught:
        clf.fit(X, oracle=oracle, classes=range(10))
    assert str(caught.value).startswith(
        "Round 1 got 3 of the 10 labels it needs; the oracle failed on 3 samples and its "
        "failure budget (max_failures) is spent, so nothing more was sent.")
    assert "The 3 labels already paid for are kept" in str(caught.value)
    assert len(clf.labeled_indices_) == 3 and clf.n_oracle_calls_ == 6


# ------------------------------------------- the net the rounds train, and how (make_net)
@pytest.mark.parametrize("settings, train_split, shuffle", [
    ({}, None, True),  # skorch's default 5-fold split dropped: every label trains
    ({"train_split": None}, None, True),
    ({"train_split": ValidSplit(3), "iterator_train__shuffle": False}, ValidSplit, False),
])
def test_the_net_trains_on_every_label_shuffled_unless_the_user_said_otherwise(
        small, settings, train_split, shuffle):
    X, y = small
    clf = LatentHardMiningClassifier(make_classifier_net(max_epochs=1, **settings),
                                     sampler="random", initial_size=10, n_rounds=1,
                                     random_state=0).fit(X, y)
    params = clf.net_.get_params()
    if train_split is None:
        assert params["train_split"] is None
    else:  # the user's own split is kept
        assert type(params["train_split"]) is ValidSplit and params["train_split"].cv == 3
    assert params["iterator_train__shuffle"] is shuffle


@pytest.mark.parametrize("retrain, n_epochs", [("continue", 2), ("scratch", 1)])
def test_retrain_scratch_restarts_the_net_each_round(small, retrain, n_epochs):
    X, y = small
    clf = _random_clf(retrain=retrain, n_rounds=2).fit(X, y)
    # skorch's history counts epochs: fit restarts it, partial_fit continues it.
    assert len(clf.net_.history) == n_epochs


# ------------------------------------------- more on rounds that wait for people
def test_a_call_that_brings_no_new_label_changes_nothing(small):
    X, y_full = small
    clf = _random_clf(initial_size=10, round_size=5)
    y = np.full(len(X), -1)
    with pytest.warns(UserWarning, match="10 requested samples await labels"):
        clf.partial_fit(X, y, classes=range(10))
    y[clf.pending_] = y_full[clf.pending_]
    with pytest.warns(UserWarning, match="5 requested samples await labels"):
        clf.partial_fit(X, y)  # round 1 trains, round 2 asks for 5
    requested, epochs = clf.pending_, len(clf.net_.history)
    with pytest.warns(UserWarning, match="5 requested samples await labels"):
        clf.partial_fit(X, y)  # nothing new: round 2 keeps waiting, untrained
    assert len(clf.history_) == 1 and len(clf.net_.history) == epochs
    np.testing.assert_array_equal(clf.pending_, requested)
    assert clf.n_oracle_calls_ == 10 and len(clf.labeled_indices_) == 10


def test_samples_still_pending_count_toward_the_next_round_not_against_the_pool(small):
    X, y_full = small
    X, y_full = X[:12], y_full[:12]
    clf = _random_clf(initial_size=10, round_size=5)
    y = np.full(len(X), -1)
    with pytest.warns(UserWarning, match="10 requested samples await labels"):
        clf.partial_fit(X, y, classes=range(10))
    requested = clf.pending_
    y[requested[:6]] = y_full[requested[:6]]
    # Round 1 trains on 6; round 2 wants 5: the 4 still pending and 1 of the 2 left.
    with pytest.warns(UserWarning, match="5 requested samples await labels"):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.pending_[:4], requested[6:])
    assert not np.isin(clf.pending_[4], requested)


class _CrashOnce(Callback):
    """Makes the next training fail once armed (a crash mid-round, e.g. out of memory)."""

    armed = False  # on the class: the estimator trains a clone of the net

    def on_train_begin(self, net, **kwargs):
        if _CrashOnce.armed:
            _CrashOnce.armed = False
            raise RuntimeError("out of memory")


def test_a_round_whose_training_crashed_resumes_with_every_label_it_took(small):
    X, y_full = small
    clf = LatentHardMiningClassifier(make_classifier_net(max_epochs=1, callbacks=[_CrashOnce()]),
                                     sampler="random", initial_size=10, round_size=5,
                                     random_state=0)
    y = np.full(len(X), -1)
    with pytest.warns(UserWarning, match="10 requested samples await labels"):
        clf.partial_fit(X, y, classes=range(10))
    requested = clf.pending_
    others = np.setdiff1d(np.arange(len(X)), requested)
    y[requested[:6]] = y_full[requested[:6]]
    y[others[:2]] = y_full[others[:2]]
    _CrashOnce.armed = True
    with pytest.raises(RuntimeError, match="out of memory"):
        clf.partial_fit(X, y)
    assert clf.history_ == [] and len(clf.labeled_indices_) == 8
    np.testing.assert_array_equal(clf.pending_, requested[6:])  # the round is still open
    y[others[2]] = y_full[others[2]]  # one more label nobody asked for
    with pytest.warns(UserWarning, match="5 requested samples await labels"):
        clf.partial_fit(X, y)
    record = clf.history_[0]
    assert (record["n_new"], record["n_chosen"], record["n_pending"]) == (9, 3, 4)
    assert clf.n_oracle_calls_ == 9


class _Unreadable(DatasetOracle):
    """Labels in ``y`` (-1: not labeled yet); the samples in ``unreadable`` fail."""

    def __init__(self, y, unreadable=()):
        super().__init__(y, missing=-1)
        self.unreadable = unreadable

    def label(self, X, indices=None):
        result = super().label(X, indices=indices)
        for pos, index in enumerate(indices):
            if int(index) in self.unreadable:
                result.labels[pos] = None
                result.errors[pos] = f"sample {int(index)} is unreadable"
        return result


def test_a_chosen_label_that_fails_is_a_failure_of_the_round_it_came_in(small):
    X, y_full = small
    y = np.full(len(X), -1)
    clf = _random_clf(initial_size=10, round_size=5)
    oracle = _Unreadable(y)
    with pytest.warns(UserWarning, match="10 requested samples await labels"):
        clf.partial_fit(X, oracle=oracle, classes=range(10))
    requested = clf.pending_
    chosen = np.setdiff1d(np.arange(len(X)), requested)[:2]
    y[requested] = y_full[requested]  # the oracle reads y as it is now
    y[chosen] = y_full[chosen]
    oracle.unreadable = {int(chosen[1])}
    with pytest.warns(UserWarning, match="5 requested samples await labels"):
        clf.partial_fit(X, oracle=oracle)
    assert clf.failed_labels_ == [{"round": 1, "index": int(chosen[1]),
                                   "error": f"sample {int(chosen[1])} is unreadable"}]
    record = clf.history_[0]
    assert (record["n_new"], record["n_chosen"], record["n_failed"]) == (11, 1, 1)


def test_a_resumed_round_whose_failures_outnumber_the_pool_left_fails_as_a_round(small):
    X, y_full = small
    X, y_full = X[:12], y_full[:12]
    ANSWERS.clear()
    clf = _random_clf(initial_size=10, round_size=2, n_rounds=1)
    oracle = LabelingToolOracle(_person, max_retries=0)
    with pytest.warns(UserWarning, match="10 requested samples await labels"):
        clf.partial_fit(X, oracle=oracle, classes=range(10))
    requested = clf.pending_
    ANSWERS.update({int(i): int(y_full[i]) for i in requested[3:]})
    ANSWERS.update({int(i): None for i in requested[:3]})
    # 7 answers and 3 failures; the 2 samples left cannot make up for 3.
    with pytest.raises(LabelingError) as caught:
        clf.partial_fit(X)
    assert str(caught.value).startswith(
        "Round 1 got 7 of the 10 labels it needs; the oracle failed on 3 samples and the "
        "pool has no more candidates or the retries ran out.")
    assert clf.n_oracle_calls_ == 10 and len(clf.labeled_indices_) == 7
    assert len(clf.pending_) == 0 and clf.history_ == []


# ------------------------------------------- a round retried after it raised
class _CrashesOnCall(_FailsOn):
    """As _FailsOn, and call ``crash`` raises (the oracle's service went down)."""

    def __init__(self, y, call=1, positions=(), crash=2):
        super().__init__(y, call=call, positions=positions)
        self.crash = crash

    def label(self, X, indices=None):
        if self.n_calls + 1 == self.crash:
            self.n_calls += 1
            raise ConnectionError("labeling service unreachable")
        return super().label(X, indices=indices)


def test_a_retried_round_needs_from_the_pool_only_the_labels_it_still_lacks(small):
    X, y = small
    X, y = X[:12], y[:12]
    # Round 1: 9 labels and a failure, then the replacement's call raises.
    oracle = _CrashesOnCall(y, call=1, positions=(0,), crash=2)
    clf = _random_clf(initial_size=10, n_rounds=1)
    with pytest.raises(ConnectionError):
        clf.partial_fit(X, oracle=oracle, classes=range(10))
    assert len(clf.labeled_indices_) == 9 and clf.history_ == []
    # The retry lacks 1 label and 2 samples are left.
    clf.partial_fit(X, oracle=oracle)
    assert len(clf.labeled_indices_) == 10 and clf.history_[0]["n_new"] == 10
    assert clf.n_oracle_calls_ == 11


def test_a_retried_round_gets_a_failure_budget_for_the_labels_it_still_lacks(small):
    X, _ = small
    _labels_three_then_fails.calls = 0
    oracle = LabelingToolOracle(_labels_three_then_fails, max_retries=0)  # one per call
    clf = _random_clf(initial_size=10, n_rounds=1)
    # max_failures=None: as many failures as the round wants labels. 3 labels, then
    # 10 failures fill the budget and the 11th goes over it.
    with pytest.raises(LabelingError, match="got 3 of the 10 labels"):
        clf.partial_fit(X, oracle=oracle, classes=range(10))
    assert len(clf.failed_labels_) == 11
    # The retry lacks 7 labels: 7 failures fill its budget, the 8th goes over it.
    with pytest.raises(LabelingError, match="got 3 of the 10 labels it needs; the oracle "
                                            "failed on 19 samples"):
        clf.partial_fit(X)
    assert len(clf.failed_labels_) == 19 and clf.n_oracle_calls_ == 22


def _sum_tool_failing_on_call(call):
    def tool(X):
        tool.calls += 1
        if tool.calls == call:
            raise RuntimeError("mesh did not converge")
        return X.reshape(len(X), -1).sum(axis=1)
    tool.calls = 0
    return tool


def test_a_synthetic_sample_that_fails_is_a_failure_of_its_round(small):
    X, _ = small
    # one sample per call: round 1 makes calls 1-5, round 2 calls 6-8 and a replacement
    oracle = LabelingToolOracle(_sum_tool_failing_on_call(7), max_retries=0)
    reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=1), sampler=_Synthesizes(),
                                    initial_size=5, round_size=3, random_state=0)
    reg.partial_fit(X, oracle=oracle)
    reg.partial_fit(X)
    assert reg.failed_labels_ == [
        {"round": 2, "index": None, "error": "RuntimeError: mesh did not converge"}]
    assert len(reg.X_synthetic_) == 3 and reg.history_[1]["n_failed"] == 1


def _sum_labels(X):
    return X.reshape(len(X), -1).sum(axis=1)


def test_each_round_records_the_labels_its_journal_gave_back_so_far(small, tmp_path):
    X, _ = small

    def fit():
        oracle = LabelingToolOracle(_sum_labels, journal=tmp_path / "labels.sqlite",
                                    journal_key="sum", chunk_size=10)
        reg = LatentHardMiningRegressor(make_regressor_net(max_epochs=1), sampler="random",
                                        initial_size=10, round_size=5, n_rounds=2,
                                        random_state=0).fit(X, oracle=oracle)
        oracle.journal_.close()
        return reg

    assert [record["n_reused"] for record in fit().history_] == [0, 0]
    # the same run again: every label comes from the journal, none from the tool
    assert [record["n_reused"] for record in fit().history_] == [10, 15]
