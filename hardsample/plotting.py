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
