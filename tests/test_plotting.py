import matplotlib
import numpy as np
import pytest

from hardsample.curves import summarize
from hardsample.plotting import plot_latent_map, plot_learning_curves

matplotlib.use("Agg")


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
