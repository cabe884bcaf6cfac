"""MNIST benchmark: every sampling strategy on the same pool, VAE, net and seeds.

Stage 1 fits the paper's MLP VAE (latent 3) once on the unlabeled pool and caches it
in the per-user cache folder (``benchmarks/_cache.py``), keyed by its settings; every
strategy shares it through ``sklearn.frozen.FrozenEstimator``. Stage 2, the study
runner (``benchmarks/_study.py``), runs each strategy with LeNet for every seed and
writes, after every seed,

- ``<tag>_records.csv`` / ``<tag>.json``: one record per (strategy, seed, round),
  plus the configuration, summary, AUC, labels-to-reach and timing in the JSON;
- ``<tag>.md``: the paper's Table 1 layout (mean ± std test accuracy per round),
  the AUC / labels-to-reach table and the per-round timing split;
- ``<tag>.png``: the learning curves.

Run ``python benchmarks/mnist.py --help`` or ``hardsample bench mnist --help``.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cache import cache_dir, cached_fit, settings_key  # noqa: E402  (benchmarks/_cache.py)
from _strategies import check_strategies, specs_from  # noqa: E402
from _report import (  # noqa: E402
    check_no_overlap, config_of, header, load_runs, merged_info, merged_runs_lines,
    paired_lines, partial_run_lines, timing_tables)
from _study import (  # noqa: E402
    Study, StudyData, accuracy, classifier, run_study, write_report)

DEFAULT_STRATEGIES = ("random", "nearest", "entropy", "margin", "coreset", "latent-entropy")
RESULTS = Path(__file__).resolve().parent / "results"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="hardsample bench mnist",
        description="Compare sampling strategies on MNIST (VAE latent 3 + LeNet).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-home", default=None, help="folder of mnist.npz "
                        "(default: $HARDSAMPLE_DATA)")
    parser.add_argument("--pool-size", type=int, default=60000,
                        help="pool: a random subsample of the training set (0 or >= 60000: all)")
    parser.add_argument("--test-size", type=int, default=0,
                        help="test images scored per round (0: all 10,000)")
    parser.add_argument("--strategies", nargs="*", default=list(DEFAULT_STRATEGIES),
                        help="registered sampler NAMEs, each optionally NAME+INITIAL: round 1 "
                        "chosen by INITIAL = CRITERION@SPACE (typiclust or centroid @ latent "
                        "or pca), e.g. 'latent-margin+typiclust@pca'; without it round 1 is "
                        "random; none (a bare --strategies): only the --variant rows. "
                        "Default: %(default)s")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--initial-size", type=int, default=100)
    parser.add_argument("--round-size", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=15, help="LeNet epochs per round")
    parser.add_argument("--train-steps", type=int, default=0, metavar="N",
                        help="train the net for exactly N optimizer steps per round, whatever "
                        "the label count (hardsample.nets.FixedStepsLoader; replaces --epochs; "
                        "0: --epochs epochs)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--retrain", choices=("scratch", "continue"), default="scratch")
    parser.add_argument("--step-size", type=float, default=1.0, help="latent step (SNN and "
                        "latent-entropy)")
    parser.add_argument("--latent-dim", type=int, default=3)
    parser.add_argument("--vae-epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output-dir", default=str(RESULTS))
    parser.add_argument("--tag", default=None, help="file name stem (default: derived "
                        "from the configuration)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=NAME[:K=V,...]",
                        help="an extra strategy: registered sampler NAME built with the given "
                        "parameters (a sampler object: --step-size does not apply to it; "
                        "reported as LABEL; e.g. "
                        "'lm64=latent-margin:n_candidates=64,step_size=auto'; a Bayesian "
                        "sampler's source: 'uncertainty=DeepEnsemble,uncertainty__n_members=3')."
                        " Repeatable.")
    parser.add_argument("--validation", type=int, default=0, metavar="N",
                        help="score on N training images outside the pool (a seed-1 draw) "
                        "instead of the test set: for tuning without touching the test set")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="do not run: merge the records of earlier runs of this script "
                        "(e.g. one per seed, run side by side) into one report; pass the same "
                        "settings as those runs, the seeds are taken from the files")
    parser.add_argument("--keep", nargs="+", default=None, metavar="NAME",
                        help="with --merge: keep only these strategies of the merged runs")
    parser.add_argument("--rename", nargs="+", default=[], metavar="OLD=NEW",
                        help="with --merge: report strategy OLD under the name NEW")
    parser.add_argument("--paired-references", nargs="+", default=["random"], metavar="NAME",
                        help="report every strategy's per-seed paired differences to each of "
                        "these strategies (e.g. a latent strategy's same-cost controls)")
    return parser


def merge_runs(args, paths):
    """Records and run information of several ``<tag>.json`` files of this script."""
    keys = ("pool_size", "test_size", "rounds", "initial_size", "round_size", "epochs", "lr",
            "batch_size", "train_steps", "retrain", "step_size", "latent_dim", "vae_epochs",
            "validation")
    parts = load_runs(paths, {k: getattr(args, k) for k in keys}, default=0)
    rename = dict(item.split("=", 1) for item in args.rename)
    records = [{**r, "strategy": rename.get(r["strategy"], r["strategy"])}
               for part in parts for r in part["records"]
               if args.keep is None or rename.get(r["strategy"], r["strategy"]) in args.keep]
    missing = sorted(set(args.keep or ()) - {r["strategy"] for r in records})
    if missing:
        raise SystemExit(f"--keep names strategies the merged runs do not have: {missing}")
    check_no_overlap(records)
    args.seeds = sorted({r["seed"] for r in records})
    variants = {}
    kept = {r["strategy"] for r in records}
    for part in parts:
        variants.update({rename.get(k, k): v for k, v in (part.get("variants") or {}).items()
                         if rename.get(k, k) in kept})
    first = parts[0]
    extra = dict(n_pool=first["n_pool"], n_test=first["n_test"],
                 vae_seconds=first["vae_seconds"], vae_path=first["vae_path"],
                 variants=variants, **merged_info(paths, parts))
    return records, extra


def parse_value(text):
    """'auto' -> 'auto', '64' -> 64, '7.5' -> 7.5, 'none' -> None."""
    if text.lower() == "none":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def uncertainty_sources():
    """The uncertainty sources a ``--variant`` can name as ``uncertainty=NAME``."""
    from hardsample.uncertainty import DeepEnsemble, MCDropout

    return {"DeepEnsemble": DeepEnsemble, "MCDropout": MCDropout}


def build_variants(specs):
    """``{label: sampler object}`` from ``LABEL=NAME[:K=V,...]`` specs.

    ``uncertainty=DeepEnsemble`` (or ``MCDropout``) gives a Bayesian sampler that source,
    and ``uncertainty__K=V`` sets its parameters, e.g.
    ``pb=power-bald:uncertainty=DeepEnsemble,uncertainty__n_members=3,power=2``.
    """
    from hardsample.samplers import SAMPLERS

    sources = uncertainty_sources()
    variants = {}
    for spec in specs:
        label, _, rest = spec.partition("=")
        name, _, params = rest.partition(":")
        if not label or name not in SAMPLERS:
            raise SystemExit(f"bad --variant {spec!r}: expected LABEL=NAME[:K=V,...] with NAME "
                             f"among {sorted(SAMPLERS)}")
        kwargs, nested = {}, {}
        for item in filter(None, params.split(",")):
            key, _, value = item.partition("=")
            if key == "uncertainty" and value in sources:
                kwargs[key] = sources[value]()
            elif "__" in key:
                nested[key] = parse_value(value)
            else:
                kwargs[key] = parse_value(value)
        if nested and "uncertainty" not in kwargs:
            raise SystemExit(f"bad --variant {spec!r}: {sorted(nested)} set the parameters of "
                             f"the uncertainty source; name it first as uncertainty=NAME, "
                             f"NAME among {sorted(sources)}")
        try:
            variants[label] = SAMPLERS[name](**kwargs).set_params(**nested)
        except (AttributeError, TypeError, ValueError) as error:
            raise SystemExit(f"bad --variant {spec!r}: {error}") from error
    return variants


def load_task(args):
    from hardsample.datasets import load_mnist

    data = load_mnist(args.data_home, download=False)
    n_train = len(data.X_train)
    rng = np.random.RandomState(0)
    if 0 < args.pool_size < n_train:
        pool = np.sort(rng.choice(n_train, size=args.pool_size, replace=False))
    else:
        pool = np.arange(n_train)
    test = np.arange(len(data.X_test))
    if 0 < args.test_size < len(test):
        test = np.sort(rng.choice(len(test), size=args.test_size, replace=False))
    to_images = lambda X: (X / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)  # noqa: E731
    X_eval, y_eval = data.X_test[test], data.y_test[test]
    if getattr(args, "validation", 0):
        outside = np.setdiff1d(np.arange(n_train), pool)
        if not 0 < args.validation <= len(outside):
            raise SystemExit(f"--validation must be in 1..{len(outside)} for this pool")
        val = np.sort(np.random.RandomState(1).choice(outside, args.validation, replace=False))
        X_eval, y_eval = data.X_train[val], data.y_train[val]
    return (to_images(data.X_train[pool]), data.y_train[pool].astype(np.int64),
            to_images(X_eval), y_eval.astype(np.int64), str(data.path))


def cached_vae(X_pool, args):
    """The VAE fitted on the pool, loaded from the per-user cache when its settings match."""
    from hardsample.generators import VAETransformer

    settings = dict(pool_size=len(X_pool), pool_sum=float(X_pool[:, 0, ::7, ::7].sum()),
                    latent_dim=args.latent_dim, hidden_sizes=[400, 400],
                    max_epochs=args.vae_epochs, batch_size=128, lr=1e-3, random_state=0)
    path = cache_dir() / f"vae_{settings_key(settings)}.pt"
    vae, seconds = cached_fit(path, VAETransformer(
        latent_dim=args.latent_dim, hidden_sizes=(400, 400), max_epochs=args.vae_epochs,
        batch_size=128, lr=1e-3, random_state=0), X_pool, settings)
    return vae, path, seconds


#: How strategies named ``NAME+CRITERION@SPACE`` chose round 1, for the reports.
INITIAL_NOTE = (
    "Round 1 is random and shared by the strategies of a seed, except for those named "
    "NAME+CRITERION@SPACE: there `RepresentativeSampler(criterion, space)` chose round 1 "
    "(k-means of the pool into as many clusters as labels; per cluster the most typical "
    "member (typiclust: inverse mean distance to its 20 nearest cluster mates) or the member "
    "nearest the centre (centroid); space latent = the VAE's codes, pca = a 50-component PCA "
    "of the pixels, fitted on 20,000 pool images: the same selection without the generator).")


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    from hardsample.curves import markdown_table, summarize

    records, args, extra = result["records"], config_of(build_parser(), result), result
    summary = summarize(records)
    derived = summaries(records)
    auc, reach, timing = derived["auc"], derived["labels_to_reach"], derived["timing"]
    target = "random" if "random" in auc else next(iter(auc))
    lines = [
        *header(f"MNIST benchmark ({extra['tag']})", extra),
        f"pool {extra['n_pool']} (seed-0 subsample of the training set), test "
        f"{extra['n_test']}{' (VALIDATION: training images outside the pool)' if args.validation else ''}; VAE latent {args.latent_dim}, {args.vae_epochs} epochs (fitted once, "
        f"{extra['vae_seconds']:.0f} s; cache {extra['vae_path']}); LeNet, Adam lr {args.lr}, "
        + (f"{args.train_steps} optimizer steps per round (FixedStepsLoader)"
           if args.train_steps else f"{args.epochs} epochs")
        + f", batch {args.batch_size}, retrain={args.retrain}; "
        f"{args.initial_size} + {args.round_size}/round, {args.rounds} rounds; "
        f"seeds {args.seeds}; step size {args.step_size}; torch threads {args.threads}; "
        f"total {extra['total_seconds'] / 60:.1f} min"
        + (f" (summed over {len(extra['merged_from'])} runs merged with --merge, run side by "
           "side)" if extra.get("merged_from") else "") + ".", "",
        *merged_runs_lines(extra),
        *partial_run_lines(args.seeds, extra.get("seeds_planned")),
        *([INITIAL_NOTE, ""] if any("+" in r["strategy"] for r in records) else []),
        *(["Variants (sampler objects): " + "; ".join(
            f"{label} = {sampler if isinstance(sampler, str) else repr(sampler)}" for label, sampler in extra['variants'].items()), ""]
          if extra.get('variants') else []),
        markdown_table(summary, title="test accuracy (%), round (labels)"), "",
        f"| strategy | AUC (%) | labels to reach {target}'s final "
        f"{100 * [s for s in summary if s['strategy'] == target][-1]['mean']:.1f} % |",
        "|---|---|---|",
    ]
    for name in auc:
        value = "never" if reach[name] is None else f"{reach[name]:.0f}"
        lines.append(f"| {name} | {100 * auc[name]:.2f} | {value} |")
    references = [target] + [r for r in args.paired_references if r != target and r in auc]
    lines.append("")
    for reference in references:
        lines += paired_lines(records, reference)
    lines += timing_tables(records, timing)
    return "\n".join(lines) + "\n"


def load(args):
    """Pool and test (or validation) set, the cached VAE, the net every row clones."""
    import torch
    from skorch import NeuralNetClassifier
    from sklearn.frozen import FrozenEstimator

    from hardsample.estimators import LatentHardMiningClassifier
    from hardsample.nets import FixedStepsLoader, LeNet

    X_pool, y_pool, X_test, y_test, path = load_task(args)
    print(f"data: {path}; pool {len(X_pool)}, test {len(X_test)}", flush=True)
    vae, vae_path, vae_seconds = cached_vae(X_pool, args)
    print(f"stage 1: VAE {'fitted in %.0f s' % vae_seconds if vae_seconds else 'from cache'} "
          f"({vae_path.name})", flush=True)
    steps = dict(max_epochs=1, iterator_train=FixedStepsLoader,
                 iterator_train__n_steps=args.train_steps) if args.train_steps else \
        dict(max_epochs=args.epochs)
    net = NeuralNetClassifier(
        LeNet, criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=args.lr,
        batch_size=args.batch_size, verbose=0, **steps,
    )
    base = LatentHardMiningClassifier(
        net, FrozenEstimator(vae), initial_size=args.initial_size,
        round_size=args.round_size, n_rounds=args.rounds, retrain=args.retrain,
    )
    info = dict(n_pool=len(X_pool), n_test=len(X_test), vae_seconds=vae_seconds,
                vae_path=vae_path.name,
                variants={k: repr(v) for k, v in build_variants(args.variant).items()})
    return StudyData(X_pool, X_test, y_test, y_pool=y_pool, info=info, context={"base": base})


def rows(args):
    """The ``--strategies`` (``NAME[+INITIAL]``), then the ``--variant`` sampler objects."""
    return {**specs_from(args.strategies, args.step_size), **build_variants(args.variant)}


def default_tag(args, data):
    return tag_for(args, len(data.X_pool))


def tag_for(args, n_pool):
    """The file-name stem of a run of these settings on a pool of ``n_pool`` images."""
    return (f"mnist_pool{n_pool}_r{args.rounds}_{args.initial_size}+"
            f"{args.round_size}_s{len(args.seeds)}"
            + (f"_steps{args.train_steps}" if args.train_steps else f"_e{args.epochs}")
            + (f"_val{args.validation}" if args.validation else ""))


def summaries(records):
    """AUC, labels to reach random's final accuracy (or the first row's), seconds."""
    from hardsample.curves import area_under_curve, labels_to_reach, seconds_per_round, \
        summarize

    summary = summarize(records)
    auc = area_under_curve(summary)
    target = "random" if "random" in auc else next(iter(auc))
    return {"auc": auc, "labels_to_reach": labels_to_reach(summary, target_strategy=target),
            "timing": seconds_per_round(records)}


def figures(result, args, data=None):
    """The learning curves, ``<tag>.png``."""
    from hardsample.plotting import plot_learning_curves

    ax = plot_learning_curves(result["summary"])
    ax.set_title(f"MNIST, pool {result['n_pool']}: mean ± std over {len(args.seeds)} seeds")
    ax.figure.tight_layout()
    ax.figure.savefig(Path(args.output_dir) / f"{args.tag}.png", dpi=120)


STUDY = Study(script="benchmarks/mnist.py", load=load, estimator=classifier, strategies=rows,
              reference="random", score=accuracy, greater_is_better=True, render=render,
              tag=default_tag, summaries=summaries, figures=figures)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.merge:
        return write_merged(args, *merge_runs(args, args.merge), argv)
    if not args.strategies and not args.variant:
        raise SystemExit("nothing to run: give --strategies NAME ... or --variant")
    build_variants(args.variant)
    check_strategies(args.strategies)
    return run_study(STUDY, args, argv)


def write_merged(args, records, extra, argv=None):
    """The report of the merged runs' records (tag: as a run of these settings would)."""
    from hardsample.curves import summarize

    args.tag = args.tag or tag_for(args, extra["n_pool"])
    result = {"config": vars(args), "tag": args.tag, **extra, "records": records,
              "summary": summarize(records), **summaries(records)}
    print(write_report(STUDY, args, result, argv))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
