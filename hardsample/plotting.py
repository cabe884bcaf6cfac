"""Plots: learning curves with mean ± std bands."""


def plot_learning_curves(summary, ax=None, *, scale=100.0, ylabel="test accuracy (%)"):
    """Plot mean ± std of the score against the number of labels, per strategy.

    Parameters
    ----------
    summary : list of dict
        Output of :func:`hardsample.curves.summarize`.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> from hardsample.plotting import plot_learning_curves
    >>> summary = [{"strategy": "random", "round": r, "n_labeled": 100 * r,
    ...             "mean": 0.8 + 0.05 * r, "std": 0.01} for r in (1, 2)]
    >>> ax = plot_learning_curves(summary)
    >>> ax.get_lines()[0].get_label()
    'random'
    """
    import matplotlib

    if ax is None:
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    for strategy in dict.fromkeys(s["strategy"] for s in summary):
        rows = sorted((s for s in summary if s["strategy"] == strategy), key=lambda s: s["round"])
        x = [s["n_labeled"] for s in rows]
        mean = [s["mean"] * scale for s in rows]
        std = [s["std"] * scale for s in rows]
        (line,) = ax.plot(x, mean, marker="o", markersize=3, label=strategy)
        ax.fill_between(x, [m - d for m, d in zip(mean, std)], [m + d for m, d in zip(mean, std)],
                        color=line.get_color(), alpha=0.2)
    ax.set_xlabel("labeled samples")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_latent_map(codes_2d, labels, paths=None, ax=None, *, max_points=20000,
                    random_state=0):
    """Scatter a 2-D latent map coloured by class, with mining trajectories on top.

    Parameters
    ----------
    codes_2d : ndarray of shape (n_pool, 2)
        Latent codes (or a 2-D projection of them).
    labels : ndarray of shape (n_pool,)
        Class of each point (for colours).
    paths : ndarray of int of shape (n_paths, n_steps), default=None
        Pool indices visited by each trajectory (e.g. from
        :func:`hardsample.samplers.nearest.snn_trajectories`), drawn as lines with
        the start marked by a circle and the end by a cross, lettered a, b, c, ...
    ax : matplotlib Axes, default=None
    max_points : int, default=20000
        Points drawn at most (a random subset of larger pools).

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from hardsample.plotting import plot_latent_map
    >>> rng = np.random.RandomState(0)
    >>> ax = plot_latent_map(rng.randn(100, 2), rng.randint(0, 3, 100),
    ...                      paths=np.array([[0, 5, 9]]))
    >>> [text.get_text() for text in ax.texts]
    ['a']
    """
    import numpy as np

    if ax is None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 6))
    codes_2d = np.asarray(codes_2d)
    labels = np.asarray(labels)
    if codes_2d.ndim != 2 or codes_2d.shape[1] != 2 or len(codes_2d) != len(labels):
        raise ValueError("codes_2d must have shape (n, 2) and labels shape (n,).")
    shown = np.arange(len(codes_2d))
    if len(shown) > max_points:
        shown = np.random.RandomState(random_state).choice(shown, max_points, replace=False)
    classes = np.unique(labels)
    scatter = ax.scatter(codes_2d[shown, 0], codes_2d[shown, 1], s=2, alpha=0.4,
                         c=np.searchsorted(classes, labels[shown]), cmap="tab10")
    handles, _ = scatter.legend_elements()
    ax.legend(handles, [str(c) for c in classes], title="class", loc="upper right",
              fontsize=7, markerscale=0.8)
    for number, path in enumerate([] if paths is None else paths):
        xy = codes_2d[np.asarray(path)]
        ax.plot(xy[:, 0], xy[:, 1], "-", color="black", linewidth=1.2)
        ax.plot(xy[0, 0], xy[0, 1], "o", color="black", markersize=5)
        ax.plot(xy[-1, 0], xy[-1, 1], "x", color="red", markersize=7)
        ax.annotate(chr(ord("a") + number % 26), xy[0], textcoords="offset points",
                    xytext=(4, 4), fontsize=10, weight="bold")
    ax.set_xlabel("latent 1")
    ax.set_ylabel("latent 2")
    return ax
