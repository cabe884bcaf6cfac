"""Second regression study with a labeling tool: a forced Duffing oscillator.

The vessel study's strategies, on a task they were not designed with: labels come
from a cheap, documented solver called through
:class:`hardsample.oracles.LabelingToolOracle`, so a strategy may label pool samples
(``*-real``) or samples it synthesizes with the generator (``*-synthetic``, SI).

**Inputs** (20-D curves on a 4-D manifold): a forcing signal ``f`` sampled at
``t_i = 0.5 i`` s, ``i = 0..19``, rendered from four latent physical parameters,

    f(t) = A exp(-(t - t0)^2 / (2 w^2)) sin(omega t),
    A ~ U(0.5, 2), t0 ~ U(2, 8) s, w ~ U(0.5, 2) s, omega ~ U(0.5, 3) rad/s.

**Tool** (:class:`DuffingTool`): the forcing (linearly interpolated between its
samples) drives a hardening Duffing oscillator at rest at ``t = 0``,

    x'' + 2 zeta x' + x + beta x^3 = f(t),   zeta = 0.05, beta = 1,

integrated by classical RK4 (step 0.05 s) to ``T = 10`` s; the label is the peak
displacement ``max_t |x(t)|``. It is a nonlinear function of the four parameters
(resonance near ``omega = 1``, shifted by the cubic stiffness; pulses that end after
``T`` are cut). The tool refuses (``ValueError``) inputs of another length, with
NaN/inf, or with ``|f| > 3`` (outside the actuator's range; pool inputs stay within
2); refused synthetic samples are recorded failures, replaced by new proposals.

**Protocol**: pool ``--pool-size`` curves (seed ``--pool-seed``), test ``--test-size``
held-out curves (seed ``--test-seed``) labeled by the same tool;
``PCAGenerator(--latent-dim, prior="aggregate")`` fitted once on the pool and shared;
target net ``NeuralNetRegressor(MLP(hidden_sizes=--hidden))``, Adam, ``--epochs``
epochs per fit, ``retrain="continue"``; ``--initial-size`` random labels then
``--round-size`` per round for ``--rounds`` rounds; every strategy runs with every seed
of ``--seeds`` (paired: round 1 and the net's initialisation are shared by the pool
strategies, and by the synthetic ones among themselves). Nothing is tuned: every
sampler runs with its defaults (deep ensemble of 5 for the variance rows), so there is
no validation split; the test set is only scored.

**Rows**: ``random-real`` (the reference), ``variance-real``,
``subsampled-variance-real`` (the variance sampler's same-cost control), ``igs-real``
(its control is random-real), ``random-synthetic`` (prior draws), ``screened-prior``,
``SI-loss`` (the paper's SI), ``SI-variance`` (SI climbing the ensemble's variance);
baselines ``predict-zero`` and ``predict-mean`` (the mean of the labels random-real
holds at that round and seed). Metric: test MSE (lower is better), paired differences
against random-real with 95 % t intervals.

Outputs (``_report.write_result``): ``<tag>.json``, ``<tag>.md`` rendered from it by
:func:`render`, ``<tag>_records.csv``; the JSON is rewritten after every seed.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import config_of, header, partial_run_lines  # noqa: E402
from _study import Study, StudyData, add_protocol_arguments, run_study  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = "random-real"
BASELINES = ("predict-zero", "predict-mean")
N_TIMES, DT_SAMPLE = 20, 0.5


def make_forcings(n, random_state):
    """``n`` forcing curves (n, 20) and their parameters (A, t0, w, omega)."""
    rng = np.random.RandomState(random_state)
    params = np.column_stack([rng.uniform(0.5, 2.0, n), rng.uniform(2.0, 8.0, n),
                              rng.uniform(0.5, 2.0, n), rng.uniform(0.5, 3.0, n)])
    t = DT_SAMPLE * np.arange(N_TIMES)
    A, t0, w, omega = (params[:, [k]] for k in range(4))
    X = A * np.exp(-(t - t0) ** 2 / (2 * w ** 2)) * np.sin(omega * t)
    return X.astype(np.float32), params


class DuffingTool:
    """The labeling tool: peak displacement of a forced Duffing oscillator.

    ``x'' + 2 zeta x' + x + beta x^3 = f(t)`` from rest, RK4 with step ``dt`` up to
    ``t_end``; ``f`` is the input, sampled every 0.5 s and linearly interpolated.

    Parameters
    ----------
    zeta, beta : float, default=0.05, 1.0
    dt : float, default=0.05
    t_end : float, default=10.0
    max_force : float, default=3.0
        Inputs with a larger ``|f|`` are refused (``ValueError``).
    """

    def __init__(self, zeta=0.05, beta=1.0, dt=0.05, t_end=10.0, max_force=3.0):
        self.zeta, self.beta, self.dt, self.t_end = zeta, beta, dt, t_end
        self.max_force = max_force

    def __call__(self, X):
        F = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if F.shape[1] != N_TIMES or not np.isfinite(F).all():
            raise ValueError(f"expected finite forcings of {N_TIMES} samples, got shape "
                             f"{F.shape[1:]}")
        if np.abs(F).max() > self.max_force:
            raise ValueError(f"forcing beyond the actuator's range |f| <= {self.max_force}")
        grid = DT_SAMPLE * np.arange(N_TIMES)

        def force(t):  # linear interpolation, held after the last sample
            k = min(int(t / DT_SAMPLE), N_TIMES - 2)
            a = min((t - grid[k]) / DT_SAMPLE, 1.0)
            return (1 - a) * F[:, k] + a * F[:, k + 1]

        def rate(t, x, v):
            return v, force(t) - 2 * self.zeta * v - x - self.beta * x ** 3

        x, v, peak, h = np.zeros(len(F)), np.zeros(len(F)), np.zeros(len(F)), self.dt
        for step in range(int(round(self.t_end / h))):
            t = step * h
            k1 = rate(t, x, v)
            k2 = rate(t + h / 2, x + h / 2 * k1[0], v + h / 2 * k1[1])
            k3 = rate(t + h / 2, x + h / 2 * k2[0], v + h / 2 * k2[1])
            k4 = rate(t + h, x + h * k3[0], v + h * k3[1])
            x = x + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
            v = v + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
            peak = np.maximum(peak, np.abs(x))
        return peak.astype(np.float32)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python benchmarks/regression_tool.py",
        description="Duffing-oscillator labeling tool: regression strategies paired by seed "
                    "against random-real; test MSE per round.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--pool-size", type=int, default=3000)
    parser.add_argument("--pool-seed", type=int, default=0)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--test-seed", type=int, default=1)
    add_protocol_arguments(parser, STUDY, rounds=6, initial_size=20, round_size=20,
                           output_dir=str(RESULTS))
    parser.add_argument("--latent-dim", type=int, default=4)
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    return parser


def load(args):
    """Pool and test forcings, the test labels, and the PCA generator fitted on the pool."""
    from sklearn.frozen import FrozenEstimator

    from hardsample.generators import PCAGenerator

    tool = DuffingTool()
    X_pool, _ = make_forcings(args.pool_size, args.pool_seed)
    X_test, _ = make_forcings(args.test_size, args.test_seed)
    tick = time.perf_counter()
    y_test = tool(X_test)
    test_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    generator = PCAGenerator(args.latent_dim, random_state=0, prior="aggregate").fit(X_pool)
    generator_seconds = time.perf_counter() - tick
    decoded = generator.inverse_transform(generator.transform(X_test))
    generator_check = {  # what synthetic rows can reach: the tool's labels of decodes
        "explained_variance": float(generator.pca_.explained_variance_ratio_.sum()),
        "reconstruction_mse": float(np.mean((decoded - X_test) ** 2)),
        "label_mse_of_decodes": float(np.mean((tool(decoded) - y_test) ** 2))}
    info = {"zero_mse": float(np.mean(y_test ** 2)), "test_variance": float(np.var(y_test)),
            "test_seconds": test_seconds, "generator_seconds": generator_seconds,
            "generator_check": generator_check}
    return StudyData(X_pool, X_test, y_test, tool=tool, info=info,
                     context={"generator": FrozenEstimator(generator)})


def estimator(args, sampler, seed, data):
    """The regressor of every row: an MLP, the shared generator, the study's protocol."""
    import torch
    from skorch import NeuralNetRegressor

    from hardsample import LatentHardMiningRegressor
    from hardsample.nets import MLP

    net = NeuralNetRegressor(MLP, module__hidden_sizes=tuple(args.hidden),
                             optimizer=torch.optim.Adam, lr=args.lr, max_epochs=args.epochs,
                             batch_size=args.batch_size, train_split=None, verbose=0)
    return LatentHardMiningRegressor(net, data.context["generator"], sampler=sampler,
                                     initial_size=args.initial_size,
                                     round_size=args.round_size, n_rounds=args.rounds,
                                     random_state=seed)


def test_mse(est, data):
    return np.mean((est.predict(data.X_test).ravel() - data.y_test) ** 2)


def baselines(est, data):
    """Predicting zero, and the mean of the labels the reference row holds."""
    return {"predict-zero": np.mean(data.y_test ** 2),
            "predict-mean": np.mean((np.mean(est.y_labeled_) - data.y_test) ** 2)}


def si_variance(args):
    from hardsample.samplers import InterpolationSampler

    return InterpolationSampler(objective="variance")


def paired_rows(records):
    from hardsample.curves import paired_differences

    return paired_differences(records, reference=REFERENCE, greater_is_better=False)


def _generator_lines(check):
    if check is None:
        return ["Generator's reconstruction of the test set: not recorded in this result.", ""]
    return [f"Generator on the test set: {100 * check['explained_variance']:.1f} % of the pool's "
            f"variance explained, reconstruction MSE {check['reconstruction_mse']:.4f}; the "
            "tool's labels of the decoded test curves differ from the true labels by MSE "
            f"{check['label_mse_of_decodes']:.4f} (how far off the real curves the synthetic "
            "rows' samples can lie).", ""]


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    from hardsample.curves import markdown_table, paired_table, summarize

    args = config_of(build_parser(), result)
    records = result["records"]
    lines = [*header(f"Regression with a labeling tool: forced Duffing oscillator "
                     f"({result['tag']})", result), *partial_run_lines(
                         args.seeds, result.get("seeds_planned")),
             f"Pool {args.pool_size} forcing curves (20 samples, 4 latent parameters; seed "
             f"{args.pool_seed}), test {args.test_size} held out (seed {args.test_seed}), "
             "labels = peak displacement of a Duffing oscillator (RK4, "
             f"{result['test_seconds']:.2f} s to label the test set). PCAGenerator(latent "
             f"{args.latent_dim}, aggregate prior, {result['generator_seconds']:.2f} s). Net "
             f"MLP{tuple(args.hidden)}, Adam lr {args.lr}, {args.epochs} epochs per fit, batch "
             f"{args.batch_size}, retrain=continue. Budget {args.initial_size} + "
             f"{args.round_size}/round, {args.rounds} rounds; seeds {args.seeds} shared by all "
             "strategies. No parameter was tuned (every sampler at its defaults: deep ensemble "
             "of 5 members for the variance rows), so no validation split; the test set is "
             f"only scored. Total {result['total_seconds'] / 60:.1f} min, torch threads "
             f"{args.threads}.", "",
             f"Target on the test set: variance {result['test_variance']:.4f}, mean square "
             f"{result['zero_mse']:.4f} (R² = 1 - MSE / variance).", "",
             *_generator_lines(result.get("generator_check")),
             "## Test MSE, mean ± std over seeds (lower is better)", "",
             markdown_table(summarize(records), scale=1.0, digits=4,
                            title="test MSE, round (labels)"), "",
             "predict-mean: the mean of the labels random-real holds at that round and seed.", "",
             "## Paired by seed: minus random-real", ""]
    try:
        rows = paired_rows(records)
    except ValueError as exc:
        rows, lines = [], lines + [f"Not computed: {exc}", ""]
    if rows:
        lines += [f"Per seed, the strategy's test MSE minus random-real's on the same seed; mean "
                  f"over {rows[0]['n_seeds']} seeds with its 95 % Student t interval (negative: "
                  "lower MSE than random-real). AUC: mean MSE over the label budget (trapezoid); "
                  "wins: seeds with the lower AUC.", "",
                  paired_table(rows, scale=1.0, digits=4,
                               title="test MSE minus random-real (95 % t interval), round "
                                     "(labels)"), ""]
        better = [r["strategy"] for r in rows if r["quantity"] == "auc" and r["high"] < 0
                  and r["strategy"] not in BASELINES]
        lines += ["Strategies whose AUC interval lies below zero (better than random-real): "
                  + (", ".join(better) if better else "none") + ".", ""]
    names = [n for n in dict.fromkeys(r["strategy"] for r in records) if n not in BASELINES]
    lines += ["## Seconds (summed over seeds and rounds)", "",
              "Mining includes the uncertainty source's training (the deep ensemble's extra "
              "members, `uncertainty_training` of `history_[i]['mining_split']`), also shown "
              "apart.", "",
              "| strategy | labeling | training | mining | of which ensemble training |",
              "|---|---|---|---|---|"]
    for name in names:
        mine = [r for r in records if r["strategy"] == name]
        lines.append(f"| {name} | " + " | ".join(f"{sum(r[k] for r in mine):.1f}" for k in (
            "labeling_seconds", "train_seconds", "mining_seconds", "uncertainty_seconds")) + " |")
    lines += ["", "## Labels the tool accepted (summed over seeds)", "",
              "| strategy | samples sent | refused | accepted |", "|---|---|---|---|"]
    for name in names:
        mine = [c for c in result["calls"] if c["strategy"] == name]
        sent, failed = sum(c["n_sent"] for c in mine), sum(c["n_failed"] for c in mine)
        lines.append(f"| {name} | {sent} | {failed} | "
                     f"{100 * (sent - failed) / max(sent, 1):.1f} % |")
    return "\n".join(lines).rstrip("\n") + "\n"


#: Row -> its sampler (registered name or object); the variance sampler's same-cost
#: control is subsampled-variance-real, iGS's is random-real, SI-variance's is
#: screened-prior.
STUDY = Study(
    script="benchmarks/regression_tool.py", load=load, estimator=estimator,
    strategies={"random-real": lambda args: "random",
                "variance-real": lambda args: "variance",
                "subsampled-variance-real": lambda args: "subsampled-variance",
                "igs-real": lambda args: "igs",
                "random-synthetic": lambda args: "prior",
                "screened-prior": lambda args: "screened-prior",
                "SI-loss": lambda args: "interpolation",
                "SI-variance": si_variance},
    reference=REFERENCE, score=test_mse, baselines=baselines, render=render,
    controls={"variance-real": "subsampled-variance-real", "igs-real": "random-real",
              "SI-variance": "screened-prior", "SI-loss": "random-synthetic"})
STRATEGIES = list(STUDY.strategies)


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.tag = args.tag or (f"regression_tool_duffing_pool{args.pool_size}_r{args.rounds}_"
                            f"{args.initial_size}+{args.round_size}_s{len(args.seeds)}")
    return run_study(STUDY, args, argv)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
