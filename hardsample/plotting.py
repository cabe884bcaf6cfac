"""Plots: learning curves (mean ± std bands, or one run's history) and latent maps."""

from collections.abc import Mapping


def plot_learning_curves(summary, ax=None, *, scale=None, ylabel=None, label=None):
    """Plot learning curves: strategies side by side, or one run's own history.

    Two inputs are accepted:

    - a summary of repeated runs (:func:`hardsample.curves.summarize`): mean ± std
      of the score against the number of labels, one line and band per strategy;
    - one run: a fitted estimator or its ``history_``, whose rounds carry a
      validation score (``callbacks=[EvaluateEachRound(X_val, y_val)]``, see
      :class:`~hardsample.callbacks.EvaluateEachRound`): the score against the
      labels paid so far. Rounds without a score are left out.

    Parameters
    ----------
    summary : list of dict, fitted estimator, or list of RoundRecord
        What to draw (see above).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    scale : float or None, default=None
        Multiplies the scores: 100 for a summary (percent), 1 for one run.
    ylabel : str or None, default=None
        ``"test accuracy (%)"`` for a summary; ``"validation <score name>"`` for
        one run.
    label : str or None, default=None
        Legend entry of one run (default: its sampler); ignored for a summary.

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    ValueError
        One run whose history holds no score (add ``EvaluateEachRound``), an
        unfitted estimator, or nothing to plot.

    Examples
    --------
    >>> from hardsample.plotting import plot_learning_curves
    >>> summary = [{"strategy": "random", "round": r, "n_labeled": 100 * r,
    ...             "mean": 0.8 + 0.05 * r, "std": 0.01} for r in (1, 2)]
    >>> ax = plot_learning_curves(summary)
    >>> ax.get_lines()[0].get_label()
    'random'
    >>> from hardsample import RoundRecord
    >>> history = [RoundRecord(round=r, n_labeled=50 * r, n_new=50, n_oracle_calls=50 * r,
    ...                        n_failed=0, n_reused=0, train_seconds=0.1,
    ...                        mining_seconds=0.0, labeling_seconds=0.0, mining_split={},
    ...                        score=0.6 + 0.1 * r, score_name="accuracy") for r in (1, 2)]
    >>> ax = plot_learning_curves(history, label="margin")
    >>> ax.get_lines()[0].get_xdata().tolist(), ax.get_ylabel()
    ([50, 100], 'validation accuracy')
    """
    run = _one_run(summary)
    if ax is None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    if run is not None:
        return _plot_history(ax, *run, scale=1.0 if scale is None else scale, ylabel=ylabel,
                             label=label)
    scale = 100.0 if scale is None else scale
    for strategy in dict.fromkeys(s["strategy"] for s in summary):
        rows = sorted((s for s in summary if s["strategy"] == strategy), key=lambda s: s["round"])
        x = [s["n_labeled"] for s in rows]
        mean = [s["mean"] * scale for s in rows]
        std = [s["std"] * scale for s in rows]
        (line,) = ax.plot(x, mean, marker="o", markersize=3, label=strategy)
        ax.fill_between(x, [m - d for m, d in zip(mean, std)], [m + d for m, d in zip(mean, std)],
                        color=line.get_color(), alpha=0.2)
    ax.set_xlabel("labeled samples")
    ax.set_ylabel("test accuracy (%)" if ylabel is None else ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def _one_run(obj):
    """``(history, default label)`` when ``obj`` is one run, None for a summary."""
    if hasattr(obj, "fit"):
        history = getattr(obj, "history_", None)
        if history is None:
            raise ValueError(f"{type(obj).__name__} is not fitted: plot its history after "
                             "fit or partial_fit.")
        sampler = getattr(obj, "sampler", None)
        return history, sampler if isinstance(sampler, str) else type(sampler).__name__
    rows = list(obj)
    if not rows:
        raise ValueError("Nothing to plot: the summary or history is empty.")
    if all(isinstance(row, Mapping) and "strategy" not in row and "round" in row
           for row in rows):
        return rows, None
    return None


def _plot_history(ax, history, default_label, *, scale, ylabel, label):
    scored = [r for r in history if r.get("score") is not None]
    if not scored:
        raise ValueError(
            "The history holds no validation score: add callbacks=[EvaluateEachRound(X_val, "
            "y_val)] (hardsample.callbacks) to the estimator, so each round scores the net "
            "on a labeled validation set."
        )
    names = [r.get("score_name") for r in scored if r.get("score_name")]
    ax.plot([r["n_labeled"] for r in scored], [r["score"] * scale for r in scored],
            marker="o", markersize=3, label=label or default_label or "validation")
    ax.set_xlabel("labeled samples")
    ax.set_ylabel(ylabel if ylabel is not None else f"validation {names[0] if names else 'score'}")
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
