import numpy as np
import pytest

from hardsample.samplers import SAMPLERS, LatentEntropySampler, LatentMarginSampler, MiningState
from hardsample.samplers.latent_uncertainty import median_nn_distance
from hardsample.samplers.uncertainty import entropy, margin

from .test_uncertainty import check_picks, state  # noqa: F401  (fixture)


@pytest.mark.parametrize("n, n_anchors", [(1, None), (20, None), (20, 5), (30, 7)])
def test_picks_unlabeled_distinct_and_sized(state, n, n_anchors):  # noqa: F811
    proposal = LatentEntropySampler(n_anchors=n_anchors, n_candidates=8).propose(
        state, n, np.random.RandomState(0))
    check_picks(state, proposal, n)
    assert proposal.anchors.shape == (n,)
    assert proposal.anchors.max() < len(state.y_labeled)
    np.testing.assert_array_equal(proposal.latent_codes, state.latent_codes[proposal.indices])


@pytest.mark.parametrize("selection", ["loss", "random"])
def test_reproducible(state, selection):  # noqa: F811
    sampler = LatentEntropySampler(anchor_selection=selection)
    a = sampler.propose(state, 20, np.random.RandomState(1)).indices
    b = sampler.propose(state, 20, np.random.RandomState(1)).indices
    np.testing.assert_array_equal(a, b)


def test_one_candidate_falls_back_to_nearest(state):  # noqa: F811
    # With one candidate per anchor and 4 picks per anchor, the rest come from the
    # best leftovers and the nearest available samples: still n distinct picks.
    proposal = LatentEntropySampler(n_anchors=3, n_candidates=1).propose(
        state, 12, np.random.RandomState(0))
    check_picks(state, proposal, 12)


def test_picks_are_more_uncertain_than_random(state):  # noqa: F811
    picks = LatentEntropySampler(n_candidates=16).propose(
        state, 30, np.random.RandomState(0)).indices
    random = np.random.RandomState(0).choice(state.available_indices, 30, replace=False)
    h = lambda idx: entropy(state.net.predict_proba(state.X_pool[idx])).mean()  # noqa: E731
    assert h(picks) > h(random)


def test_can_exhaust_a_small_pool(state):  # noqa: F811
    excluded = np.ones(len(state.excluded), dtype=bool)
    excluded[100:110] = False
    small = MiningState(**{**state.__dict__, "excluded": excluded})
    proposal = LatentEntropySampler().propose(small, 10, np.random.RandomState(0))
    assert sorted(proposal.indices) == list(range(100, 110))


@pytest.mark.parametrize("params, match", [
    (dict(n_candidates=0), "n_candidates"),
    (dict(anchor_selection="best"), "anchor_selection"),
    (dict(uniform_weight=-1.0), "uniform_weight"),
    (dict(step_size=0.0), "step_size"),
    (dict(n_anchors=0), "n_anchors"),
    (dict(criterion="gini"), "criterion"),
    (dict(assignment="best"), "assignment"),
    (dict(step_size="big"), "step_size"),
    (dict(step_size="auto", step_scale=0.0), "step_scale"),
    (dict(step_size="auto", step_scale=float("nan")), "step_scale"),
    (dict(step_scale=True), "step_scale"),
])
def test_bad_params_raise(state, params, match):  # noqa: F811
    with pytest.raises(ValueError, match=match):
        LatentEntropySampler(**params).propose(state, 5, np.random.RandomState(0))


def test_bad_input_raises(state):  # noqa: F811
    with pytest.raises(ValueError, match="only"):
        LatentEntropySampler().propose(state, state.n_available + 1, np.random.RandomState(0))
    no_latent = MiningState(**{**state.__dict__, "latent_index": None, "generator": None})
    with pytest.raises(ValueError, match="generator"):
        LatentEntropySampler().propose(no_latent, 3, np.random.RandomState(0))


VARIANTS = [
    dict(criterion="margin"),
    dict(criterion="margin", n_candidates=32, assignment="global"),
    dict(criterion="entropy", assignment="global", n_anchors=4),
    dict(criterion="margin", step_size="auto"),
    dict(criterion="margin", step_size="auto", step_scale=2.5, n_anchors=7),
]


@pytest.mark.parametrize("params", VARIANTS)
@pytest.mark.parametrize("n", [1, 13, 30])
def test_variants_pick_unlabeled_distinct_and_sized(state, params, n):  # noqa: F811
    proposal = LatentEntropySampler(**params).propose(state, n, np.random.RandomState(0))
    check_picks(state, proposal, n)
    assert proposal.anchors.shape == (n,)
    assert proposal.anchors.max() < len(state.y_labeled)
    np.testing.assert_array_equal(proposal.latent_codes, state.latent_codes[proposal.indices])


@pytest.mark.parametrize("params", VARIANTS)
def test_variants_reproducible(state, params):  # noqa: F811
    sampler = LatentEntropySampler(**params)
    a = sampler.propose(state, 20, np.random.RandomState(5))
    b = sampler.propose(state, 20, np.random.RandomState(5))
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.anchors, b.anchors)


@pytest.mark.parametrize("assignment", ["per-anchor", "global"])
def test_variants_can_exhaust_a_small_pool(state, assignment):  # noqa: F811
    excluded = np.ones(len(state.excluded), dtype=bool)
    excluded[200:209] = False
    small = MiningState(**{**state.__dict__, "excluded": excluded})
    proposal = LatentEntropySampler(criterion="margin", assignment=assignment,
                                    step_size="auto").propose(small, 9, np.random.RandomState(0))
    assert sorted(proposal.indices) == list(range(200, 209))


def test_margin_criterion_prefers_small_margins(state):  # noqa: F811
    picks = LatentEntropySampler(criterion="margin", n_candidates=32).propose(
        state, 30, np.random.RandomState(0)).indices
    random = np.random.RandomState(0).choice(state.available_indices, 30, replace=False)
    m = lambda idx: margin(state.net.predict_proba(state.X_pool[idx])).mean()  # noqa: E731
    assert m(picks) < m(random)


def test_global_assignment_takes_the_most_uncertain_candidates(state):  # noqa: F811
    # One anchor: the candidates are the 40 available pool samples nearest to its
    # stepped code; "global" must return exactly the 10 of them with the smallest
    # margins, recomputed here from the net's predict_proba.
    from hardsample.hardness import hardness_step

    n, n_candidates = 10, 40
    sampler = LatentEntropySampler(criterion="margin", n_candidates=n_candidates, n_anchors=1,
                                   assignment="global", anchor_selection="random")
    proposal = sampler.propose(state, n, np.random.RandomState(0))
    anchor = proposal.anchors[0]
    assert (proposal.anchors == anchor).all()
    stepped, _ = hardness_step(state.net, state.generator.decoder_, state.z_labeled[[anchor]],
                               state.y_labeled[[anchor]], sampler.step_size)
    distances = ((state.latent_codes.astype(np.float64) - stepped) ** 2).sum(1)
    distances[state.excluded] = np.inf
    candidates = np.argsort(distances, kind="stable")[:n_candidates]
    proba = state.net.predict_proba(state.X_pool[candidates])
    top2 = np.sort(proba, axis=1)[:, -2:]
    margins = top2[:, 1] - top2[:, 0]
    order = np.argsort(margins, kind="stable")
    assert margins[order[n]] > margins[order[n - 1]]  # no tie at the cut: one right answer
    assert set(proposal.indices.tolist()) == set(candidates[order[:n]].tolist())


def test_auto_step_follows_the_latent_scale(state, monkeypatch):  # noqa: F811
    import hardsample.samplers._latent as module

    d = median_nn_distance(state.latent_index, state.latent_codes)
    assert d > 0
    seen = []
    real = module.hardness_step
    monkeypatch.setattr(module, "hardness_step",
                        lambda *a: seen.append(a[-1]) or real(*a))
    LatentEntropySampler(step_size="auto", step_scale=3.0).propose(
        state, 5, np.random.RandomState(0))
    np.testing.assert_allclose(seen, [3.0 * d], rtol=1e-6)
    # Scaling the codes (and the index) scales the step.
    from hardsample.neighbors import LatentIndex
    codes = state.latent_codes * 10
    assert median_nn_distance(LatentIndex().fit(codes), codes) == pytest.approx(10 * d, rel=1e-5)


def test_auto_step_needs_two_codes():
    from hardsample.neighbors import LatentIndex
    codes = np.zeros((1, 3), np.float32)
    with pytest.raises(ValueError, match="2 pool codes"):
        median_nn_distance(LatentIndex().fit(codes), codes)


def test_auto_step_of_two_codes_is_their_distance():
    from hardsample.neighbors import LatentIndex
    codes = np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)
    assert median_nn_distance(LatentIndex().fit(codes), codes) == pytest.approx(5.0)


def test_latent_margin_is_registered_with_its_defaults(state):  # noqa: F811
    assert SAMPLERS["latent-margin"] is LatentMarginSampler
    assert SAMPLERS["latent-entropy"] is LatentEntropySampler
    sampler = LatentMarginSampler()
    assert isinstance(sampler, LatentEntropySampler)
    assert sampler.criterion == "margin" and sampler.n_candidates == 64
    assert sampler.assignment == "global"
    assert LatentEntropySampler().criterion == "entropy"
    assert LatentEntropySampler().n_candidates == 16
    check_picks(state, sampler.propose(state, 12, np.random.RandomState(0)), 12)


def test_default_unchanged_by_new_parameters(state):  # noqa: F811
    # The explicit old-default parameters give the same picks as the defaults.
    a = LatentEntropySampler().propose(state, 20, np.random.RandomState(2)).indices
    b = LatentEntropySampler(criterion="entropy", assignment="per-anchor", step_size=1.0,
                             step_scale=123.0).propose(state, 20, np.random.RandomState(2)).indices
    np.testing.assert_array_equal(a, b)


# Tiny hand-made states: a fake classifier and 2-d codes, so that the candidates and
# their uncertainties are known exactly (``step_direction="zero"``: no decoder needed).

class ProbaNet:
    """A fake classifier: a sample's first feature is its probability of class 0."""

    def predict_proba(self, X):
        p = np.asarray(X, dtype=np.float64)[:, 0]
        return np.column_stack([p, 1.0 - p])


def tiny_state(codes, p, labeled, y_labeled=None, also_excluded=()):
    """Pool of ``codes`` whose class-0 probabilities are ``p``; rows ``labeled`` labeled."""
    from hardsample.neighbors import LatentIndex

    codes = np.asarray(codes, dtype=np.float32)
    X = np.column_stack([p, codes]).astype(np.float32)
    excluded = np.zeros(len(codes), dtype=bool)
    excluded[list(labeled) + list(also_excluded)] = True
    y = np.zeros(len(labeled), np.int64) if y_labeled is None else y_labeled
    return MiningState(X_pool=X, latent_codes=codes, excluded=excluded, X_labeled=X[labeled],
                       y_labeled=y, z_labeled=codes[labeled], net=ProbaNet(),
                       generator=object(), latent_index=LatentIndex().fit(codes))


def two_anchor_state(also_excluded_ring=False):
    """Anchor A (labeled) at the origin with three uncertain neighbours (rows 0-2, row 0
    the most uncertain); anchor B (labeled) at (100, 0) with three confident ones (rows
    3-5). With the ring, 16 excluded rows surround B and a confident row sits at (100, 10)."""
    codes = [(1, 0), (0, 1), (-1, 0), (101, 0), (100, 1), (99, 0), (0, 0), (100, 0)]
    p = [0.5, 0.55, 0.6, 0.99, 0.98, 0.97, 1.0, 1.0]
    ring = []
    if also_excluded_ring:
        codes = codes[:6] + [(0, 0), (100, 0)]
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = list(range(8, 24))
        codes += [(100 + 0.5 * np.cos(t), 0.5 * np.sin(t)) for t in angles] + [(100, 10)]
        p += [0.5] * 16 + [0.99]
        # B's own confident neighbours are taken too: B has no candidate of its own.
        ring += [3, 4, 5]
    return tiny_state(codes, p, labeled=[6, 7], also_excluded=ring)


ZERO_STEP = dict(step_direction="zero", anchor_selection="random", n_anchors=2, n_candidates=3)


def test_global_takes_the_union_best_per_anchor_spreads():
    state = two_anchor_state()
    rng = np.random.RandomState(0)
    glob = LatentEntropySampler(assignment="global", **ZERO_STEP).propose(state, 2, rng)
    assert sorted(glob.indices.tolist()) == [0, 1]  # both near A: the two most uncertain
    spread = LatentEntropySampler(assignment="per-anchor", **ZERO_STEP).propose(
        state, 2, np.random.RandomState(0))
    assert sorted(spread.indices.tolist()) == [0, 5]  # A's best, B's best


def test_short_anchor_takes_the_best_leftover_of_another_anchor():
    # B's neighbourhood is all excluded: it takes A's second most uncertain
    # candidate, not the nearest available sample to its own code (row 24).
    state = two_anchor_state(also_excluded_ring=True)
    proposal = LatentEntropySampler(**ZERO_STEP).propose(state, 2, np.random.RandomState(0))
    assert sorted(proposal.indices.tolist()) == [0, 1]
    anchor_of = dict(zip(proposal.indices.tolist(), proposal.anchors.tolist()))
    assert {anchor_of[0], anchor_of[1]} == {0, 1}  # one pick per anchor (A: 0, B: 1)


def test_loss_anchors_with_float_labels():
    # Labels given as floats still index the probabilities; with uniform_weight=0
    # only the misfit labeled sample (the third) is ever an anchor.
    codes = [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    state = tiny_state(codes, [0.7, 0.6, 0.5, 1.0, 1.0, 1.0], labeled=[3, 4, 5],
                       y_labeled=np.array([0.0, 0.0, 1.0]))
    sampler = LatentEntropySampler(step_direction="zero", uniform_weight=0.0, n_anchors=1,
                                   n_candidates=3)
    proposal = sampler.propose(state, 2, np.random.RandomState(0))
    assert proposal.anchors.tolist() == [2, 2]
    assert sorted(proposal.indices.tolist()) == [1, 2]


def test_single_labeled_sample_is_enough_and_none_raises():
    state = tiny_state([(0, 0), (1, 0), (2, 0)], [0.5, 0.6, 1.0], labeled=[2])
    sampler = LatentEntropySampler(step_direction="zero")
    assert sorted(sampler.propose(state, 2, np.random.RandomState(0)).indices) == [0, 1]
    empty = MiningState(**{**state.__dict__, "X_labeled": state.X_labeled[:0],
                           "y_labeled": state.y_labeled[:0], "z_labeled": state.z_labeled[:0]})
    with pytest.raises(ValueError, match="needs labeled samples to anchor on"):
        sampler.propose(empty, 2, np.random.RandomState(0))


def test_missing_index_or_codes_raise_naming_the_sampler():
    state = tiny_state([(0, 0), (1, 0), (2, 0)], [0.5, 0.6, 1.0], labeled=[2])
    no_index = MiningState(**{**state.__dict__, "latent_index": None})
    with pytest.raises(ValueError, match=r"^LatentEntropySampler mines in a latent space: "
                                         r"the estimator needs a generator\.$"):
        LatentEntropySampler(step_direction="zero").propose(no_index, 1, np.random.RandomState(0))
    no_codes = MiningState(**{**state.__dict__, "z_labeled": np.full((1, 2), np.nan)})
    with pytest.raises(ValueError, match="^LatentMarginSampler steps from labeled samples"):
        LatentMarginSampler(step_direction="zero").propose(no_codes, 1, np.random.RandomState(0))


def test_zero_samples_and_timings():
    state = tiny_state([(0, 0), (1, 0), (2, 0)], [0.5, 0.6, 1.0], labeled=[2])
    sampler = LatentEntropySampler(step_direction="zero", step_size="auto")
    empty = sampler.propose(state, 0, np.random.RandomState(0)).indices
    assert empty.dtype == np.int64 and empty.shape == (0,)
    timings = sampler.propose(state, 1, np.random.RandomState(0)).timings
    assert set(timings) == {"neighbors", "anchors", "gradient", "judging"}
    assert all(t >= 0 for t in timings.values())


def test_auto_step_estimate_uses_a_subsample():
    from hardsample.neighbors import LatentIndex

    codes = (np.arange(40, dtype=np.float32) ** 1.5).reshape(-1, 1)  # distinct gaps
    index = LatentIndex().fit(codes)
    queries = []

    class Recording:
        def kneighbors(self, Q, k):
            queries.append(np.asarray(Q))
            return index.kneighbors(Q, k)

    d = median_nn_distance(Recording(), codes, n_sample=10)
    (Q,) = queries
    assert Q.shape == (10, 1) and len(np.unique(Q)) == 10
    _, dist = index.kneighbors(Q, 2)
    assert d == pytest.approx(np.median(dist[:, 1]))
    with pytest.raises(ValueError, match=r"^step_size='auto' needs at least 2 pool codes\.$"):
        median_nn_distance(index, codes[:1])


def test_latent_margin_passes_every_parameter_on():
    entropy_defaults = LatentEntropySampler().get_params()
    margin_defaults = LatentMarginSampler().get_params()
    changed = {k for k in entropy_defaults if entropy_defaults[k] != margin_defaults[k]}
    assert changed == {"criterion", "n_candidates", "assignment"}
    other = dict(step_size=0.3, n_anchors=2, n_candidates=5, anchor_selection="random",
                 uniform_weight=2.0, index="brute", batch_size=7, criterion="entropy",
                 assignment="per-anchor", step_scale=3.0, step_direction="random")
    assert LatentMarginSampler(**other).get_params() == other


def test_fallback_to_the_nearest_available_is_timed_as_neighbors():
    # B's neighbourhood is all excluded and A has three candidates for four picks:
    # the last pick is the nearest available sample to B's code (row 24), a search
    # timed with the other neighbour queries
    state = two_anchor_state(also_excluded_ring=True)
    proposal = LatentEntropySampler(**ZERO_STEP).propose(state, 4, np.random.RandomState(0))
    assert sorted(proposal.indices.tolist()) == [0, 1, 2, 24]
    assert set(proposal.timings) == {"anchors", "gradient", "neighbors", "judging"}
