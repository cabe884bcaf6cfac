"""LabelLedger: the one owner of the labeled set."""

import numpy as np
import pytest

from hardsample._ledger import LabelLedger
from hardsample._targets import ClassTargets, RegressionTargets
from hardsample.oracles import LabelingResult
from hardsample.samplers._latent import latent_step


def _class_ledger(n_pool=10, latent_codes=None):
    codec = ClassTargets()
    codec.set_up_for_tool(classes=["a", "b", "c"])
    return LabelLedger(n_pool, (2,), codec, latent_codes=latent_codes)


def test_pool_labels_failures_and_exclusion():
    ledger = _class_ledger()
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    result = LabelingResult(["a", None, "z", "c"], errors={1: "tool crashed"})
    kept = ledger.record(result, X[[2, 5, 7, 9]], 1, indices=np.array([2, 5, 7, 9]))
    assert kept == 2 and ledger.n_labeled == 2 and ledger.n_oracle_calls == 4
    assert ledger.indices.tolist() == [2, 9]
    # failed and labeled samples alike can no longer be proposed
    assert np.flatnonzero(ledger.excluded).tolist() == [2, 5, 7, 9]
    assert [(f["index"], f["error"]) for f in ledger.failures] == [
        (5, "tool crashed"), (7, "label 'z' is not one of classes_ ['a', 'b', 'c']")]
    X_train, y_train = ledger.training_set(X)
    np.testing.assert_array_equal(X_train, X[[2, 9]])
    assert y_train.tolist() == [0, 2]


def test_synthetic_inputs_are_stored_as_labeled():
    codec = RegressionTargets()
    codec.set_up_for_tool()
    ledger = LabelLedger(4, (3,), codec, latent_codes=np.zeros((4, 2), np.float32))
    sent = np.full((2, 3), 0.6, dtype=np.float32)
    cleaned = np.ones((2, 3), dtype=np.float32)  # what the tool actually labeled
    codes = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    ledger.record(LabelingResult([1.5, 2.5], inputs=cleaned), sent, 2, latent_codes=codes)
    np.testing.assert_array_equal(ledger.X_synthetic, cleaned)
    np.testing.assert_array_equal(ledger.z_synthetic, codes)
    np.testing.assert_array_equal(ledger.synthetic_targets(), [1.5, 2.5])
    assert not ledger.excluded.any()


def test_synthetic_codes_come_from_the_encoder_or_stay_unknown():
    codec = RegressionTargets()
    codec.set_up_for_tool()
    pool_codes = np.zeros((4, 2), np.float32)
    encoded = LabelLedger(4, (2,), codec, latent_codes=pool_codes, encoder=lambda X: X * 10)
    encoded.record(LabelingResult([1.0]), np.array([[0.1, 0.2]], np.float32), 2)
    np.testing.assert_allclose(encoded.z_synthetic, [[1.0, 2.0]])
    unknown = LabelLedger(4, (2,), codec, latent_codes=pool_codes)
    unknown.record(LabelingResult([1.0]), np.array([[0.1, 0.2]], np.float32), 2)
    assert np.isnan(unknown.z_synthetic).all()


def test_samples_without_codes_are_never_anchors():
    z_labeled = np.array([[np.nan, np.nan], [1.0, 0.0], [np.nan, np.nan]], np.float32)

    class State:
        generator = object()
        net = None
        y_labeled = np.zeros(3)

    state = State()
    state.z_labeled = z_labeled
    step = latent_step(state, 6, np.random.RandomState(0), step_size=1.0, direction="zero")
    assert set(step.anchors.tolist()) == {1}
    state.z_labeled = z_labeled[[0, 2]]
    with pytest.raises(ValueError, match="no labeled sample has one"):
        latent_step(state, 2, np.random.RandomState(0), step_size=1.0, direction="zero")


def test_random_direction_has_the_step_length():
    class State:
        generator = object()
        net = None
        y_labeled = np.zeros(5)
        z_labeled = np.random.RandomState(1).randn(5, 3).astype(np.float32)

    step = latent_step(State(), 5, np.random.RandomState(0), step_size=0.7, direction="random")
    np.testing.assert_allclose(np.linalg.norm(step.stepped - step.codes, axis=1), 0.7, rtol=1e-5)
    other = latent_step(State(), 5, np.random.RandomState(1), step_size=0.7, direction="random")
    assert not np.allclose(step.direction, other.direction)


def test_synthetic_codes_follow_the_accepted_rows_when_one_fails():
    # The middle sample fails: the codes kept must be those of samples 0 and 2, in the
    # order of the inputs kept (a shifted code would anchor later rounds at a wrong place).
    codec = RegressionTargets()
    codec.set_up_for_tool()
    ledger = LabelLedger(4, (2,), codec, latent_codes=np.zeros((4, 2), np.float32))
    sent = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], dtype=np.float32)
    codes = np.array([[10.0, 10.0], [11.0, 11.0], [12.0, 12.0]], dtype=np.float32)
    result = LabelingResult([0.5, None, 2.5], errors={1: "tool crashed"})
    assert ledger.record(result, sent, 2, latent_codes=codes) == 2
    np.testing.assert_array_equal(ledger.X_synthetic, sent[[0, 2]])
    np.testing.assert_array_equal(ledger.z_synthetic, codes[[0, 2]])
    np.testing.assert_array_equal(ledger.synthetic_targets(), [0.5, 2.5])
    np.testing.assert_array_equal(ledger.z_labeled(), codes[[0, 2]])
    assert [f["error"] for f in ledger.failures] == ["tool crashed"]


def test_synthetic_samples_without_a_latent_space_have_empty_codes():
    codec = RegressionTargets()
    codec.set_up_for_tool()
    ledger = LabelLedger(4, (2,), codec)  # no pool codes: a sampler without latent space
    sent = np.ones((2, 2), dtype=np.float32)
    ledger.record(LabelingResult([1.0, 2.0]), sent, 2,
                  latent_codes=np.zeros((2, 3), np.float32))
    assert ledger.z_synthetic.shape == (2, 0) and ledger.z_synthetic.dtype == np.float32
    assert ledger.z_labeled() is None and ledger.n_labeled == 2


def test_round_record_reads_like_a_dict():
    from hardsample._ledger import RoundRecord

    record = RoundRecord(round=2, n_labeled=30, n_new=10, n_oracle_calls=31, n_failed=1,
                         n_reused=0, train_seconds=0.5, mining_seconds=0.25,
                         labeling_seconds=0.1, mining_split={"gradient": 0.2})
    # 10 fields of every round, the validation score and its name, and the people counts
    assert record["n_failed"] == 1 and len(record) == len(record.to_dict()) == 14
    assert record["score"] is None and record["n_pending"] == 0
    assert list(record)[:3] == ["round", "n_labeled", "n_new"]
    assert dict(record) == record.to_dict()
    with pytest.raises(KeyError, match="n_rounds"):
        record["n_rounds"]


def test_synthetic_codes_are_stored_as_float32_whatever_they_come_as():
    codec = RegressionTargets()
    codec.set_up_for_tool()
    pool_codes = np.zeros((4, 2), np.float32)
    sent = np.array([[0.1, 0.2]], np.float32)
    given = LabelLedger(4, (2,), codec, latent_codes=pool_codes)
    given.record(LabelingResult([1.0]), sent, 2, latent_codes=np.array([[1.0, 2.0]]))
    encoded = LabelLedger(4, (2,), codec, latent_codes=pool_codes,
                          encoder=lambda X: X.astype(np.float64) * 10)
    encoded.record(LabelingResult([1.0]), sent, 2)
    unknown = LabelLedger(4, (2,), codec, latent_codes=pool_codes)
    unknown.record(LabelingResult([1.0]), sent, 2)
    for ledger in (given, encoded, unknown):
        assert ledger.z_synthetic.dtype == np.float32
        assert ledger.z_labeled().dtype == np.float32


def test_target_shape_is_learned_from_the_answered_labels_only():
    # The failed sample's placeholder (None, a scalar) must not set the shape that the
    # answered vector labels are then checked against.
    codec = RegressionTargets()
    codec.set_up_for_tool()
    ledger = LabelLedger(3, (2,), codec)
    X = np.zeros((3, 2), np.float32)
    result = LabelingResult([[1.0, 2.0], None, [3.0, 4.0]], errors={1: "tool crashed"})
    assert ledger.record(result, X, 1, indices=np.arange(3)) == 2
    assert codec.target_shape_ == (2,)
    np.testing.assert_array_equal(ledger.real_targets(), [[1.0, 2.0], [3.0, 4.0]])


def test_synthetic_inputs_are_stored_as_float32_and_without_an_inputs_field():
    # A custom oracle's result may only have labels and errors: the batch sent is kept.
    from types import SimpleNamespace

    codec = RegressionTargets()
    codec.set_up_for_tool()
    ledger = LabelLedger(4, (2,), codec, latent_codes=np.zeros((4, 2), np.float32))
    sent = np.array([[0.25, 0.5], [0.75, 1.0]])  # float64
    result = SimpleNamespace(labels=[1.0, 2.0], errors={})
    assert ledger.record(result, sent, 2, latent_codes=np.ones((2, 2))) == 2
    assert ledger.X_synthetic.dtype == np.float32
    np.testing.assert_array_equal(ledger.X_synthetic, sent.astype(np.float32))


# ------------------------------------------------------------ open requests
def _open(ledger, number=1, n_wanted=4):
    return ledger.open_request(number, n_wanted, np.random.RandomState(0), 1, 2)


def test_a_request_with_nothing_pending_is_dropped_and_leaves_no_pending():
    ledger = _class_ledger()
    assert ledger.pending.dtype == np.int64 and ledger.pending.size == 0
    ledger.drop_request()  # no round open: nothing to do
    request = _open(ledger)
    assert request.pending.dtype == np.int64 and request.pending.size == 0
    ledger.drop_request()  # nothing waits: a retry draws the round afresh
    assert ledger.request is None
    assert ledger.pending.dtype == np.int64 and ledger.pending.size == 0
    assert _open(ledger).pending.size == 0


def test_waiting_pool_samples_join_the_request_cost_nothing_and_keep_it_open():
    ledger = _class_ledger()
    _open(ledger)
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    indices = np.array([6, 1, 3, 8])
    result = LabelingResult([None, "b", None, "c"], pending={0, 2})
    assert ledger.record(result, X[indices], 1, indices=indices) == 2
    assert ledger.indices.tolist() == [1, 8] and ledger.real_targets().tolist() == [1, 2]
    # waiting is neither a label, a failure nor an oracle call
    assert ledger.n_oracle_calls == 2 and ledger.failures == []
    assert ledger.pending.tolist() == [6, 3] and ledger.pending.dtype == np.int64
    # no sampler proposes a waiting sample again
    assert np.flatnonzero(ledger.excluded).tolist() == [1, 3, 6, 8]
    ledger.drop_request()  # samples wait: the round stays open
    assert ledger.request is not None and ledger.pending.tolist() == [6, 3]


def test_answered_and_failed_samples_leave_the_request_in_request_order():
    ledger = _class_ledger()
    _open(ledger)
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    asked = np.array([4, 7, 2, 5])
    ledger.record(LabelingResult([None] * 4, pending={0, 1, 2, 3}), X[asked], 1, indices=asked)
    assert ledger.pending.tolist() == [4, 7, 2, 5]
    # The whole request asked again: 7 answered, 2 failed, 4 and 5 still wait (once each).
    result = LabelingResult([None, "a", None, None], errors={2: "unreadable"}, pending={0, 3})
    assert ledger.record(result, X[asked], 1, indices=asked) == 1
    assert ledger.pending.tolist() == [4, 5] and ledger.indices.tolist() == [7]
    assert [f["index"] for f in ledger.failures] == [2]
    # Asked on its own, a sample still waiting keeps its place in the request.
    ledger.record(LabelingResult([None], pending={0}), X[[4]], 1, indices=np.array([4]))
    assert ledger.pending.tolist() == [4, 5]
    assert ledger.n_oracle_calls == 2


def test_a_waiting_sample_without_an_open_round_is_an_error():
    ledger = _class_ledger()
    X = np.zeros((2, 2), np.float32)
    with pytest.raises(RuntimeError, match="^a sample is pending but no round is open$"):
        ledger.record(LabelingResult([None, "a"], pending={0}), X, 1, indices=np.array([3, 4]))


def test_target_shape_is_not_learned_from_waiting_samples():
    # Waiting samples answer None: two of them must not outvote the one real label.
    codec = RegressionTargets()
    codec.set_up_for_tool()
    ledger = LabelLedger(3, (2,), codec)
    _open(ledger)
    result = LabelingResult([[1.0, 2.0], None, None], pending={1, 2})
    assert ledger.record(result, np.zeros((3, 2), np.float32), 1, indices=np.arange(3)) == 1
    assert codec.target_shape_ == (2,)
    np.testing.assert_array_equal(ledger.real_targets(), [[1.0, 2.0]])


def test_a_waiting_synthetic_sample_fails_with_the_reason():
    codec = RegressionTargets()
    codec.set_up_for_tool()
    ledger = LabelLedger(4, (2,), codec)
    sent = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    assert ledger.record(LabelingResult([1.5, 2.5], pending={0}), sent, 3) == 1
    np.testing.assert_array_equal(ledger.X_synthetic, sent[[1]])
    assert ledger.failures == [{
        "round": 3, "index": None,
        "error": "the labeling tool answered 'not yet' for a synthetic sample; only pool "
                 "samples can wait for labels"}]
    assert ledger.pending.size == 0
    assert ledger.n_oracle_calls == 2  # both were sent: one labeled, one failed


def test_unsent_samples_cost_nothing_fail_nothing_and_keep_their_place():
    ledger = _class_ledger()
    _open(ledger)
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    asked = np.array([4, 7, 2, 5])
    ledger.record(LabelingResult([None] * 4, pending={0, 1, 2, 3}), X[asked], 1, indices=asked)
    # Asked again, the oracle stopped after two answers: 2 and 5 were never sent.
    result = LabelingResult(["a", None, None, None], errors={1: "crashed"}, unsent={2, 3})
    assert ledger.record(result, X[asked], 1, indices=asked) == 1
    assert ledger.n_oracle_calls == 2 and [f["index"] for f in ledger.failures] == [7]
    assert ledger.pending.tolist() == [2, 5] and ledger.indices.tolist() == [4]
    # A fresh pool sample never sent stays free to be proposed; a synthetic one is no failure.
    fresh = np.array([0, 9])
    ledger.record(LabelingResult(["b", None], unsent={1}), X[fresh], 1, indices=fresh)
    assert not ledger.excluded[9] and ledger.n_oracle_calls == 3
    ledger.record(LabelingResult([None, "c"], unsent={0}), X[:2], 1)
    assert len(ledger.failures) == 1 and ledger.n_oracle_calls == 4 and ledger.n_labeled == 3
