import matplotlib
import numpy as np
import pytest

from hardsample import LatentHardMiningClassifier
from hardsample.callbacks import EvaluateEachRound
from hardsample.curves import summarize
from hardsample.plotting import plot_latent_map, plot_learning_curves

from .conftest import make_classifier_net

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def test_learning_curves_one_line_and_band_per_strategy():
    records = [{"strategy": s, "seed": seed, "round": r, "n_labeled": 10 * r,
                "score": 0.5 + 0.1 * r + 0.01 * seed}
               for s in ("random", "nearest") for seed in (0, 1) for r in (1, 2, 3)]
    ax = plot_learning_curves(summarize(records))
    assert [line.get_label() for line in ax.get_lines()] == ["random", "nearest"]
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [10, 20, 30])
    assert len(ax.collections) == 2  # the ± std bands


def test_latent_map_draws_points_and_paths():
    rng = np.random.RandomState(0)
    codes = rng.standard_normal((500, 2))
    labels = rng.randint(0, 3, 500)
    ax = plot_latent_map(codes, labels, paths=np.array([[0, 1, 2], [3, 4, 5]]), max_points=100)
    assert len(ax.collections[0].get_offsets()) == 100
    assert [t.get_text() for t in ax.texts] == ["a", "b"]
    with pytest.raises(ValueError, match="shape"):
        plot_latent_map(codes[:, :1], labels)


# ----------------------------------------------------------- one run's history
def _run(X, y, callbacks):
    return LatentHardMiningClassifier(make_classifier_net(), sampler="margin", initial_size=30,
                                      round_size=30, n_rounds=3, callbacks=callbacks,
                                      random_state=0).fit(X[:1400], y[:1400])


def test_learning_curve_of_one_fitted_run(digits):
    X, y = digits
    clf = _run(X, y, [EvaluateEachRound(X[1400:], y[1400:])])
    _, ax = plt.subplots()
    assert plot_learning_curves(clf, ax=ax) is ax
    [line] = ax.get_lines()
    assert line.get_label() == "margin" and ax.get_ylabel() == "validation accuracy"
    np.testing.assert_array_equal(line.get_xdata(), [30, 60, 90])
    np.testing.assert_allclose(line.get_ydata(), [r["score"] for r in clf.history_])
    # its history_ draws the same curve; scale and a second run on the same axes
    ax = plot_learning_curves(clf.history_, ax=ax, scale=100.0, label="again")
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), 100 * line.get_ydata())
    plt.close("all")


def test_learning_curve_of_one_run_needs_scores(digits):
    X, y = digits
    with pytest.raises(ValueError, match="EvaluateEachRound"):
        plot_learning_curves(_run(X, y, None))
    with pytest.raises(ValueError, match="not fitted"):
        plot_learning_curves(LatentHardMiningClassifier(make_classifier_net()))
    with pytest.raises(ValueError, match="empty"):
        plot_learning_curves([])
