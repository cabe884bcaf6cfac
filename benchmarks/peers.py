"""hardsample's strategies and scikit-activeml's peers at their best, in the same run (MNIST).

Every strategy runs inside the same round loop: a ``LatentHardMiningClassifier`` with
the skorch LeNet (Adam 1e-3, batch 64, the same epochs, retrained from scratch or
continued each round), the same pool, test set, budgets and seeds, hence the same
random round-1 labels and the same net initialisation and training seed per round.
hardsample's strategies are its registered samplers (``random``, ``margin``,
``latent-margin`` and its same-cost control ``subsampled-margin`` by default);
scikit-activeml 1.x's strategies (Badge, TypiClust, ProbCover, CoreSet, Falcun,
DropQuery, Clue, and its uncertainty sampling) choose the next labels through
:class:`_skactiveml.SkactivemlSampler`, which gives each the trained net's
penultimate features of the pool and, where it needs a classifier, the net's last
layer on them (see ``benchmarks/_skactiveml.py``); ``NAME@latent`` gives a model-free
peer the cached VAE's latent codes instead. Selection seconds per round are measured
by the loop for every strategy alike.

Writes ``peers_<tag>.md`` / ``.json`` with accuracy per round, AUC, selection and
training seconds, and the paired-by-seed statistics against each ``--references``.

scikit-activeml is a benchmark-only dependency, in the ``bench`` extra: ``pip install -e ".[bench]"``.
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mnist  # noqa: E402  (benchmarks/mnist.py: data loading and the cached VAE)
from _report import (  # noqa: E402
    config_of, header, merged_runs_lines, paired_lines, partial_run_lines)
from _study import (  # noqa: E402
    Study, StudyData, accuracy, add_protocol_arguments, classifier, merge_study, run_study)

DEFAULT_STRATEGIES = ("random", "margin", "latent-margin", "subsampled-margin")
DEFAULT_PEERS = ("badge", "typiclust", "probcover", "coreset", "falcun", "dropquery", "clue")
PREFIX = "skactiveml-"


def build_parser():
    parser = argparse.ArgumentParser(
        description="hardsample's strategies and scikit-activeml's peers, same loop and seeds.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data-home", default=None, help="folder of mnist.npz "
                        "(default: $HARDSAMPLE_DATA)")
    parser.add_argument("--pool-size", type=int, default=10000, help="pool subsample")
    parser.add_argument("--test-size", type=int, default=0, help="test images (0: all)")
    add_protocol_arguments(parser, STUDY, seeds=(0, 1, 2), rounds=6, initial_size=100,
                           round_size=100, output_dir=str(HERE / "results"))
    parser.add_argument("--epochs", type=int, default=15, help="LeNet epochs per round")
    parser.add_argument("--retrain", choices=("scratch", "continue"), default="scratch")
    parser.add_argument("--strategies", nargs="*", default=list(DEFAULT_STRATEGIES),
                        help="hardsample's registered samplers")
    parser.add_argument("--peers", nargs="*", default=list(DEFAULT_PEERS),
                        metavar="PEER[@latent]", help="scikit-activeml strategies (keys of "
                        "_skactiveml.PEERS); '@latent': on the VAE's codes instead of the "
                        "net's penultimate features")
    parser.add_argument("--references", nargs="+", default=["random", "latent-margin"],
                        help="strategies the paired statistics are taken against")
    parser.add_argument("--latent-dim", type=int, default=3, help="VAE latent dimension")
    parser.add_argument("--vae-epochs", type=int, default=20, help="VAE epochs")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--reuse", default=None, metavar="JSON",
                        help="a benchmarks/mnist.py result with the same settings whose "
                        "records of --reuse-strategies are taken instead of running them again "
                        "(checked: every seed's round-1 score must equal this run's, i.e. "
                        "the runs share round-1 labels, net initialisation and training)")
    parser.add_argument("--reuse-strategies", nargs="*", default=[],
                        help="strategies taken from --reuse")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="do not run: merge the results of earlier runs of this script "
                        "with the same settings (e.g. seeds run side by side, or a run "
                        "stopped after some seeds and one of the rest) into one report")
    return parser


#: Settings the runs merged by ``--merge`` must share (the seeds may differ).
MERGE_KEYS = ("pool_size", "test_size", "rounds", "initial_size", "round_size", "epochs",
              "retrain", "strategies", "peers", "reuse", "reuse_strategies", "latent_dim",
              "vae_epochs", "threads")


#: What a result states about its data and tools (kept by a merged report).
DATA_FACTS = ("source", "n_pool", "n_test", "vae_path", "vae_seconds", "skactiveml_version",
              "candidate_view", "reused_from")


#: Settings a reused mnist.py result must share with this run.
SHARED_SETTINGS = ("pool_size", "test_size", "rounds", "initial_size", "round_size", "epochs",
                   "retrain", "latent_dim", "vae_epochs")


def reused_records(args):
    """Records of ``--reuse-strategies`` from ``--reuse``, after checking its settings."""
    if not args.reuse_strategies:
        return [], None
    if not args.reuse:
        raise SystemExit("--reuse-strategies needs --reuse JSON")
    result = json.loads(Path(args.reuse).read_text())
    config = result["config"]
    differ = {k: (config.get(k), getattr(args, k)) for k in SHARED_SETTINGS
              if config.get(k) != getattr(args, k)}
    if config.get("lr", 1e-3) != 1e-3 or config.get("batch_size", 64) != 64 \
            or config.get("train_steps", 0) or config.get("validation", 0):
        differ["net"] = "lr 1e-3, batch 64, epochs, test set expected"
    if differ:
        raise SystemExit(f"{args.reuse} was run with other settings: {differ}")
    records = [r for r in result["records"] if r["strategy"] in args.reuse_strategies
               and r["seed"] in args.seeds]
    found = {(r["strategy"], r["seed"]) for r in records}
    missing = [(n, s) for n in args.reuse_strategies for s in args.seeds if (n, s) not in found]
    if missing:
        raise SystemExit(f"{args.reuse} has no records of {missing}")
    return records, result["provenance"]


def check_paired(records, reused):
    """Every seed's round 1 must score the same in both runs (shared labels and net)."""
    first = {}
    for r in records + reused:
        if r["round"] == 1:
            first.setdefault(r["seed"], set()).add(round(r["score"], 12))
    unpaired = {seed: sorted(scores) for seed, scores in first.items() if len(scores) > 1}
    if unpaired:
        raise SystemExit(f"the reused records are not paired with this run: round-1 scores "
                         f"differ by seed {unpaired}")


def parse_peer(spec):
    """``"PEER[@latent][/K]"`` -> ``(peer, embedding, K or None)``.

    ``"typiclust@latent"`` -> ``("typiclust", "latent", None)``; ``"badge/64"`` -> Badge on
    the penultimate features, choosing among 64 uniform candidates per label.
    """
    from _skactiveml import PEERS

    spec, _, per_label = spec.partition("/")
    peer, _, embedding = spec.partition("@")
    embedding = embedding or "penultimate"
    if peer not in PEERS or embedding not in PEERS[peer][2] or \
            (per_label and not (per_label.isdigit() and int(per_label) > 0)):
        raise SystemExit(f"bad peer {spec!r}: choose among {sorted(PEERS)}, with '@latent' "
                         "only for " + ", ".join(p for p, v in PEERS.items() if "latent" in v[2])
                         + ", and '/K' a positive number of candidates per label")
    return peer, embedding, int(per_label) if per_label else None


#: What a ``PEER/K`` sees, recorded in each result (results without it: the whole pool).
CANDIDATE_VIEW = "labeled rows and candidates only"


def peer_inputs(spec, latent_dim, candidate_view=None):
    """One row of the report's table of what a peer was given."""
    from _skactiveml import PEERS, PREPARATION

    peer, embedding, per_label = parse_peer(spec)
    cls, needs_clf, _ = PEERS[peer]
    X = (f"VAE latent codes ({latent_dim}-D)" if embedding == "latent"
         else "net's penultimate features (500-D, recomputed each round)")
    clf = ("net's last layer + softmax on those features (the net's own probabilities)"
           if needs_clf else "none (model-free)")
    prepared = PREPARATION.get(peer, "as given")
    if per_label:
        prepared += (f"; chooses among {per_label} candidates per label drawn uniformly from "
                     "the unlabeled pool each round (as subsampled-margin)")
        if candidate_view:
            prepared += f"; sees the {candidate_view}"
    if peer == "probcover" and embedding == "latent":
        prepared = prepared.replace("rows scaled to unit length (the paper's normalised "
                                    "embeddings)", "codes as given")
    name = f"`{cls}`" + (f" ({peer})" if cls == "UncertaintySampling" else "")
    return f"| {PREFIX}{spec} | {name} | {X} | {clf} | {prepared} |"


def render(result):
    """The Markdown report of a ``<tag>.json`` written by this script."""
    from hardsample.curves import (
        area_under_curve, markdown_table, seconds_per_round, summarize)

    args = config_of(build_parser(), result)
    records = result["records"]
    summary = summarize(records)
    auc = area_under_curve(summary)
    timing = seconds_per_round(records)
    total = result.get("total_seconds")
    lines = [*header(f"hardsample and scikit-activeml's peers ({result['tag']})", result),
             f"{result.get('source', 'MNIST')}: pool {result['n_pool']} (seed-0 subsample of "
             f"the training set), test {result['n_test']}; LeNet, Adam 1e-3, {args.epochs} "
             f"epochs, batch 64, retrain={args.retrain}; {args.initial_size} + "
             f"{args.round_size}/round, {args.rounds} rounds; seeds {args.seeds}; VAE latent "
             f"{args.latent_dim}, {args.vae_epochs} epochs (shared by every strategy that "
             f"uses it); torch threads {args.threads}; scikit-activeml "
             f"{result.get('skactiveml_version', '?')}; total "
             f"{'not recorded' if total is None else '%.1f min' % (total / 60)}.", "",
             *partial_run_lines(args.seeds, result.get("seeds_planned")),
             *([f"Records of {', '.join(args.reuse_strategies)} are taken from "
                f"`{Path(args.reuse).name}` (`{result['reused_from']['command']}`, commit "
                f"{result['reused_from']['commit'][:12]}), not run again; every seed's round-1 "
                "score was checked to equal this run's (same labels, net initialisation and "
                "training), so the seeds stay paired.", ""] if result.get("reused_from") else []),
             *merged_runs_lines(result),
             "Every strategy runs in the same round loop (same round-1 labels, net "
             "initialisation and training seeds per seed); a peer only chooses the next "
             "labels. What each peer was given:", "",
             "| strategy | scikit-activeml class | X | classifier | preparation |",
             "|---|---|---|---|---|"]
    lines += [peer_inputs(spec, args.latent_dim, result.get("candidate_view"))
              for spec in args.peers]
    lines += ["", markdown_table(summary, title="test accuracy (%), round (labels)"), "",
              "Selection: seconds per round choosing the next labels (mean over rounds >= 2, "
              "seeds; includes the forward pass for features or probabilities); train: "
              "seconds per round training the net.", "",
              "| strategy | AUC (%) | selection s/round | train s/round |", "|---|---|---|---|"]
    lines += [f"| {name} | {100 * auc[name]:.2f} | {timing[name]['mining_seconds']:.3f} | "
              f"{timing[name]['train_seconds']:.2f} |" for name in auc]
    for reference in args.references:
        lines += ["", *paired_lines(records, reference)]
    return "\n".join(lines).rstrip("\n") + "\n"


def load(args):
    """Pool and test set (those of mnist.py), the cached VAE and the estimator every row
    clones; the provenance of the reused result."""
    import skactiveml
    import torch
    from skorch import NeuralNetClassifier
    from sklearn.frozen import FrozenEstimator

    from hardsample import LatentHardMiningClassifier
    from hardsample.nets import LeNet

    X_pool, y_pool, X_test, y_test, source = mnist.load_task(args)
    vae, vae_path, vae_seconds = mnist.cached_vae(X_pool, args)
    print(f"data: {source}; pool {len(X_pool)}, test {len(X_test)}; VAE "
          f"{'fitted in %.0f s' % vae_seconds if vae_seconds else 'from cache'}", flush=True)
    net = NeuralNetClassifier(LeNet, criterion=torch.nn.CrossEntropyLoss,
                              optimizer=torch.optim.Adam, lr=1e-3, max_epochs=args.epochs,
                              batch_size=64, verbose=0)
    base = LatentHardMiningClassifier(
        net, FrozenEstimator(vae), initial_size=args.initial_size,
        round_size=args.round_size, n_rounds=args.rounds, retrain=args.retrain)
    info = {"source": source, "n_pool": len(X_pool), "n_test": len(X_test),
            "vae_path": vae_path.name, "vae_seconds": vae_seconds,
            "skactiveml_version": skactiveml.__version__, "candidate_view": CANDIDATE_VIEW,
            "reused_from": reused_records(args)[1]}
    return StudyData(X_pool, X_test, y_test, y_pool=y_pool, info=info, context={"base": base})


def rows(args):
    """hardsample's strategies, then the peers, each through the same estimator."""
    from _skactiveml import SkactivemlSampler
    from _strategies import specs_from

    specs = specs_from(args.strategies)
    specs.update({f"{PREFIX}{spec}": SkactivemlSampler(peer, embedding, n_candidates=per_label)
                  for spec in args.peers for peer, embedding, per_label in [parse_peer(spec)]})
    return specs


def reused(args, records):
    """The reused records of the seeds run so far, checked to pair with this run's."""
    ours = reused_records(args)[0]
    check_paired(records, ours)
    return ours


def default_tag(args, data):
    return (f"peers_pool{len(data.X_pool)}_r{args.rounds}_{args.initial_size}+"
            f"{args.round_size}_s{len(args.seeds)}")


STUDY = Study(script="benchmarks/peers.py", load=load, estimator=classifier, strategies=rows,
              reference="random", score=accuracy, greater_is_better=True, render=render,
              tag=default_tag, extra_records=reused)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.merge:
        return merge_study(STUDY, args, argv, keys=MERGE_KEYS, copied=DATA_FACTS)
    for spec in args.peers:
        parse_peer(spec)
    reused_records(args)  # settings and records checked before any label is paid for
    if not args.strategies and not args.peers:
        raise SystemExit("nothing to run: give --strategies and/or --peers")
    args.validation = 0
    return run_study(STUDY, args, argv)


if __name__ == "__main__":
    raise SystemExit(main())
