"""Smoke tests of the benchmark scripts on tiny data, and the committed reports' provenance.

The scripts read their real data through ``--data-home``; here that folder holds
``mnist.npz`` / ``cifar10.npz`` made from scikit-learn's 8x8 digits (upsampled), so
every script runs end to end in CI in seconds, without MNIST or CIFAR-10.
"""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from .conftest import importorskip_unless_ci

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def script(name):
    """``benchmarks/<name>.py`` as a module (the scripts import their siblings)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    """The scripts' model cache (benchmarks/_cache.py), a fresh folder per test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("HARDSAMPLE_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A folder with mnist.npz (28x28) and cifar10.npz (32x32x3) made from the digits."""
    folder = tmp_path_factory.mktemp("data")
    X, y = load_digits(return_X_y=True)
    images = np.kron(X.reshape(-1, 8, 8) * 255 / 16, np.ones((3, 3)))  # 24x24
    mnist = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)
    np.savez(folder / "mnist.npz", X_train=mnist[:1000], y_train=y[:1000],
             X_test=mnist[1000:], y_test=y[1000:])
    cifar = np.repeat(np.kron(X.reshape(-1, 8, 8) * 255 / 16, np.ones((4, 4)))[..., None], 3,
                      axis=-1).astype(np.uint8)
    np.savez(folder / "cifar10.npz", X_train=cifar[:1000], y_train=y[:1000],
             X_test=cifar[1000:], y_test=y[1000:])
    return folder


CURVE_OPTIONS = ["--seeds", "0", "1", "--rounds", "2", "--initial-size", "10",
                 "--round-size", "10", "--epochs", "1", "--threads", "1", "--no-progress"]


def check_report(folder, tag, strategies, reference="random", paired=True):
    """The JSON carries provenance; the Markdown is its render and has paired statistics."""
    result = json.loads((folder / f"{tag}.json").read_text())
    info = result["provenance"]
    assert len(info["commit"]) == 40 and isinstance(info["dirty"], bool)
    assert set(info["packages"]) == {"hardsample", "torch", "skorch", "scikit-learn", "numpy"}
    assert info["command"].startswith("python benchmarks/")
    assert info["cpu_count"] >= 1
    text = (folder / f"{tag}.md").read_text()
    assert f"at commit {info['commit']}" in text
    assert {r["strategy"] for r in result["records"]} == set(strategies)
    if paired:
        assert "## Paired by seed" in text and f"| minus {reference} (" in text
    for name in strategies:
        assert f"| {name} |" in text
    return result, text


def test_mnist_script(tiny_data, tmp_path, cache_folder):
    mnist = script("mnist")
    strategies = ["random", "nearest", "latent-margin", "random+typiclust@pca"]
    assert mnist.main(["--data-home", str(tiny_data), "--pool-size", "300", "--test-size",
                       "100", "--vae-epochs", "1", "--step-size", "0.5", "--strategies",
                       *strategies, "--output-dir", str(tmp_path), "--tag", "t",
                       *CURVE_OPTIONS]) == 0
    result, text = check_report(tmp_path, "t", strategies)
    assert result["n_pool"] == 300 and result["n_test"] == 100
    assert "--step-size 0.5" in result["provenance"]["command"]
    assert text == mnist.render(result)
    # written after every seed; a run stopped early says which seeds it finished
    assert result["seeds_planned"] == result["config"]["seeds"] and "Partial run" not in text
    stopped = dict(result, seeds_planned=[*result["seeds_planned"], 99])
    assert f"**Partial run**: seeds {result['config']['seeds']} of the " in mnist.render(stopped)
    assert (tmp_path / "t.png").stat().st_size > 1000
    assert len(list(cache_folder.glob("vae_*.pt"))) == 1  # the cache is not in the output
    rounds_one = {r["strategy"]: r for r in result["records"] if r["round"] == 1}
    assert rounds_one["random+typiclust@pca"]["mining_seconds"] > \
        rounds_one["random"]["mining_seconds"]  # round 1 was chosen, not drawn
    csv_lines = (tmp_path / "t_records.csv").read_text().splitlines()
    assert csv_lines[0] == f"# commit: {result['provenance']['commit']}"
    assert f"# command: {result['provenance']['command']}" in csv_lines


def test_mnist_script_merges_runs_and_keeps_chosen_strategies(tiny_data, tmp_path):
    mnist = script("mnist")
    common = ["--data-home", str(tiny_data), "--pool-size", "300", "--test-size", "100",
              "--vae-epochs", "1", "--output-dir", str(tmp_path), "--seeds", "0", "--rounds",
              "2", "--initial-size", "10", "--round-size", "10", "--epochs", "1",
              "--no-progress"]
    assert mnist.main([*common, "--strategies", "random", "margin", "--tag", "a"]) == 0
    assert mnist.main([*common, "--strategies", "random+centroid@pca", "--tag", "b"]) == 0
    assert mnist.main([*common, "--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                       "--keep", "random", "random+centroid@pca", "--tag", "ab"]) == 0
    merged = json.loads((tmp_path / "ab.json").read_text())["records"]
    assert {r["strategy"] for r in merged} == {"random", "random+centroid@pca"}
    text = (tmp_path / "ab.md").read_text()
    assert "Merged runs: `a.json` (commit " in text and "`b.json` (commit " in text
    # the kept records are the runs' own, unchanged
    assert [r for r in merged if r["strategy"] == "random+centroid@pca"] == \
        json.loads((tmp_path / "b.json").read_text())["records"]
    with pytest.raises(SystemExit, match="do not have: \\['entropy'\\]"):
        mnist.main([*common, "--merge", str(tmp_path / "a.json"), "--keep", "entropy"])
    with pytest.raises(SystemExit, match="other settings"):
        mnist.main([*common, "--epochs", "2", "--merge", str(tmp_path / "a.json")])


def test_mnist_script_with_fixed_optimizer_steps(tiny_data, tmp_path):
    mnist = script("mnist")
    assert mnist.main(["--data-home", str(tiny_data), "--pool-size", "300", "--test-size",
                       "100", "--vae-epochs", "1", "--strategies", "random", "--train-steps",
                       "3", "--retrain", "scratch", "--output-dir", str(tmp_path),
                       *CURVE_OPTIONS]) == 0
    [md] = tmp_path.glob("mnist_pool300_*_steps3.md")
    assert "3 optimizer steps per round (FixedStepsLoader)" in md.read_text()


def test_peers_script_reuses_paired_records_of_mnist_script(tiny_data, tmp_path):
    importorskip_unless_ci("skactiveml")
    mnist, peers = script("mnist"), script("peers")
    common = ["--data-home", str(tiny_data), "--pool-size", "200", "--test-size", "50",
              "--seeds", "0", "1", "--rounds", "2", "--initial-size", "10", "--round-size",
              "10", "--epochs", "1", "--vae-epochs", "1", "--no-progress", "--output-dir",
              str(tmp_path)]
    assert mnist.main([*common, "--retrain", "scratch", "--strategies", "random", "margin",
                       "--tag", "ours"]) == 0
    assert peers.main([*common, "--strategies", "--peers", "coreset", "--reuse",
                       str(tmp_path / "ours.json"), "--reuse-strategies", "random", "margin",
                       "--references", "random", "--tag", "both"]) == 0
    result, text = check_report(tmp_path, "both", ["random", "margin", "skactiveml-coreset"])
    ours = json.loads((tmp_path / "ours.json").read_text())["records"]
    assert [r for r in result["records"] if r["strategy"] != "skactiveml-coreset"] == ours
    assert "Records of random, margin are taken from `ours.json`" in text
    # other settings, or records that do not share round 1, are refused
    with pytest.raises(SystemExit, match="other settings"):
        peers.main([*common, "--epochs", "2", "--strategies", "--peers", "coreset",
                    "--reuse", str(tmp_path / "ours.json"), "--reuse-strategies", "random"])
    with pytest.raises(SystemExit, match="not paired"):
        peers.check_paired([{"seed": 0, "round": 1, "score": 0.5}],
                           [{"seed": 0, "round": 1, "score": 0.25}])


def test_peers_script_merges_seeds_run_apart(tiny_data, tmp_path):
    importorskip_unless_ci("skactiveml")
    peers = script("peers")
    common = ["--data-home", str(tiny_data), "--pool-size", "200", "--test-size", "50",
              "--rounds", "2", "--initial-size", "10", "--round-size", "10", "--epochs", "1",
              "--vae-epochs", "1", "--no-progress", "--output-dir", str(tmp_path),
              "--strategies", "random", "--peers", "coreset/3", "--references", "random"]
    for seed in ("0", "1"):
        assert peers.main([*common, "--seeds", seed, "--tag", f"seed{seed}"]) == 0
    parts = [str(tmp_path / f"seed{seed}.json") for seed in ("0", "1")]
    assert peers.main([*common, "--merge", *parts, "--tag", "both"]) == 0
    result, text = check_report(tmp_path, "both", ["random", "skactiveml-coreset/3"])
    separate = [r for part in parts for r in json.loads(Path(part).read_text())["records"]]
    assert result["records"] == separate
    assert result["config"]["seeds"] == [0, 1]
    assert "Merged runs: `seed0.json` (commit" in text and "Partial run" not in text
    assert "mean over 2 seeds" in text  # paired over both seeds
    with pytest.raises(SystemExit, match="overlap"):
        peers.main([*common, "--merge", parts[0], parts[0]])
    with pytest.raises(SystemExit, match="other settings"):
        other = json.loads(Path(parts[1]).read_text())
        other["config"]["rounds"] = 3
        (tmp_path / "other.json").write_text(json.dumps(other))
        peers.main([*common, "--merge", parts[0], str(tmp_path / "other.json")])


def test_cifar10_script(tiny_data, tmp_path):
    cifar10 = script("cifar10")
    strategies = ["random", "entropy+centroid@latent"]
    assert cifar10.main(["--data-home", str(tiny_data), "--pool-size", "100", "--test-size",
                         "30", "--gan-channels", "4", "--gan-epochs", "1", "--gan-train-size",
                         "32", "--vgg-width", "0.125", "--strategies", *strategies,
                         "--paired-references", "random", "entropy+centroid@latent",
                         "--output-dir", str(tmp_path), "--tag", "t", *CURVE_OPTIONS]) == 0
    result, text = check_report(tmp_path, "t", strategies)
    assert text == cifar10.render(result)
    assert "α-GAN quality" in text and "| minus entropy+centroid@latent (" in text
    assert result["seeds_planned"] == [0, 1] and "Partial run" not in text
    assert "**Partial run**: seeds [0] of the [0, 1] planned" in cifar10.render(
        dict(result, config=dict(result["config"], seeds=[0])))


def test_cifar10_script_merges_seeds_run_side_by_side(tiny_data, tmp_path):
    cifar10 = script("cifar10")
    common = ["--data-home", str(tiny_data), "--pool-size", "100", "--test-size", "30",
              "--gan-channels", "4", "--gan-epochs", "1", "--gan-train-size", "32",
              "--vgg-width", "0.125", "--strategies", "random", "--output-dir", str(tmp_path),
              "--rounds", "2", "--initial-size", "10", "--round-size", "10", "--epochs", "1",
              "--threads", "1", "--no-progress"]
    for seed in ("0", "1"):
        assert cifar10.main([*common, "--seeds", seed, "--tag", f"s{seed}"]) == 0
    parts = [str(tmp_path / "s0.json"), str(tmp_path / "s1.json")]
    assert cifar10.main([*common, "--merge", *parts, "--tag", "both"]) == 0
    result, text = check_report(tmp_path, "both", ["random"], paired=False)
    assert result["config"]["seeds"] == [0, 1] and text == cifar10.render(result)
    assert "Merged runs (seeds run side by side): `s0.json` (commit " in text
    assert result["records"] == [r for p in parts for r in json.loads(Path(p).read_text())
                                 ["records"]]
    with pytest.raises(SystemExit, match="overlap"):
        cifar10.main([*common, "--merge", parts[0], parts[0]])


def test_peers_script(tiny_data, tmp_path):
    importorskip_unless_ci("skactiveml")
    peers = script("peers")
    ours = ["random", "margin", "latent-margin", "subsampled-margin"]
    theirs = [*peers.DEFAULT_PEERS, "typiclust@latent", "margin", "badge/3", "typiclust/3",
              "probcover/3"]
    assert peers.main(["--data-home", str(tiny_data), "--pool-size", "200", "--test-size",
                       "50", "--seeds", "0", "1", "--rounds", "2", "--initial-size", "10",
                       "--round-size", "10", "--epochs", "1", "--vae-epochs", "1",
                       "--strategies", *ours, "--peers", *theirs, "--no-progress",
                       "--output-dir", str(tmp_path)]) == 0
    tag = "peers_pool200_r2_10+10_s2"
    names = ours + [f"skactiveml-{p}" for p in theirs]
    result, text = check_report(tmp_path, tag, names)
    assert text == peers.render(result)
    assert "| minus latent-margin (" in text
    assert "Partial run" not in text
    assert "**Partial run**: seeds [0, 1] of the [0, 1, 2] planned" in peers.render(
        dict(result, seeds_planned=[0, 1, 2]))
    assert "| skactiveml-badge | `Badge` | net's penultimate features" in text
    assert "| skactiveml-typiclust@latent | `TypiClust` | VAE latent codes (3-D)" in text
    assert "chooses among 3 candidates per label drawn uniformly" in text
    assert text.count("sees the labeled rows and candidates only") == 3
    records = result["records"]
    # Every strategy of a seed starts from the same labels and the same net.
    for seed in (0, 1):
        first = {r["score"] for r in records if r["seed"] == seed and r["round"] == 1}
        assert len(first) == 1
    # scikit-activeml's margin sampling, given the net's last layer on its penultimate
    # features, picks what hardsample's does: the same learning curve, seed by seed.
    score = {(r["strategy"], r["seed"], r["round"]): r["score"] for r in records}
    for seed in (0, 1):
        assert score["skactiveml-margin", seed, 2] == score["margin", seed, 2]
    assert all(r["mining_seconds"] > 0 for r in records if r["round"] == 2
               and r["strategy"] != "random")


def test_peer_sampler_rejects_bad_settings():
    importorskip_unless_ci("skactiveml")
    script("peers")
    SkactivemlSampler = script("_skactiveml").SkactivemlSampler

    with pytest.raises(ValueError, match="unknown peer 'nope'"):
        SkactivemlSampler("nope")._validate_params()
    with pytest.raises(ValueError, match="peer 'badge' takes embedding in"):
        SkactivemlSampler("badge", embedding="latent")._validate_params()
    with pytest.raises(ValueError, match="n_candidates must be None or a positive int"):
        SkactivemlSampler("badge", n_candidates=0)._validate_params()
    with pytest.raises(SystemExit, match="'/K' a positive number"):
        script("peers").parse_peer("badge/x")


def test_round_split_script(tiny_data, tmp_path):
    split = script("bench_round_split")
    assert split.main(["--data-home", str(tiny_data), "--strategies", "random",
                       "latent-margin", "--seeds", "0", "--rounds", "2", "--initial-size", "10",
                       "--round-size", "10", "--epochs", "1", "--vae-epochs", "1",
                       "--output-dir", str(tmp_path), "--tag", "t"]) == 0
    result = json.loads((tmp_path / "t.json").read_text())
    assert set(result["summary"]) == {"random", "latent-margin"}
    assert (tmp_path / "t.md").read_text() == split.render(result)


def test_selection_cost_script(tiny_data, tmp_path):
    cost = script("bench_selection_cost")
    assert cost.main(["--data-home", str(tiny_data), "--pool-sizes", "600", "--repeats", "1",
                      "--round-size", "10", "--n-labeled", "20", "--epochs", "1",
                      "--vae-pool-size", "200", "--vae-epochs", "1",
                      "--output-dir", str(tmp_path), "--tag", "t"]) == 0
    result = json.loads((tmp_path / "t.json").read_text())
    timed = result["pools"]["600"]["strategies"]
    assert set(timed) == set(cost.strategies())
    assert timed["margin"]["ratio_to_reference"] == 1.0
    assert (tmp_path / "t.md").read_text() == cost.render(result)
    assert "ratio to margin" in cost.render(result)


def test_latent_map_script(tiny_data, tmp_path):
    latent_map = script("latent_map")
    assert latent_map.main(["--data-home", str(tiny_data), "--pool-size", "300",
                            "--n-labeled", "30", "--n-paths", "2", "--n-steps", "3",
                            "--generator-epochs", "1", "--epochs", "1", "--threads", "1",
                            "--output-dir", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("*.json")
    result = json.loads(path.read_text())
    assert len(result["paths"]) == 2 and len(result["provenance"]["commit"]) == 40


def test_bench_neighbors_script(tmp_path):
    neighbors = script("bench_neighbors")
    out = tmp_path / "n.json"
    assert neighbors.main(["--sizes", "500", "--dims", "3", "--methods", "kdtree", "brute",
                           "--n-queries", "20", "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {r["method"] for r in result["results"]} == {"kdtree", "brute"}
    assert "command" in result["provenance"]


VESSEL_OPTIONS = ["--pool-size", "20", "--test-size", "2"]


def test_vessels_script_conv_vae_generators():
    vessels = script("vessels")
    args = vessels.build_parser().parse_args(["--generator", "sdf-conv-vae", "--conv-channels",
                                              "8", "16", "--conv-epochs", "7"])
    gen = vessels.make_generator(args)
    assert gen.prior == "aggregate" and gen.generator.prior == "standard"
    assert gen.generator.get_params()["architecture"] == "conv"
    assert gen.generator.channels == (8, 16) and gen.generator.max_epochs == 7
    args.generator = "vae"  # its prior is the study's, not the SDF base's "standard"
    assert vessels.make_generator(args).prior == "aggregate"


def test_vessels_script(tmp_path):
    vessels = script("vessels")
    strategies = ["SI", "random-synthetic", "random-real"]
    assert vessels.main([*VESSEL_OPTIONS, "--seeds", "0", "1", "--rounds", "2",
                         "--initial-size", "3", "--round-size", "2", "--train-steps", "2",
                         "--widths", "4", "8", "--n-jobs", "1", "--strategies", *strategies,
                         "--output-dir", str(tmp_path), "--tag", "t"]) == 0
    # random-real's rounds carry the mean-map baseline rows
    result, text = check_report(tmp_path, "t", [*strategies, "mean-map"], paired=False)
    assert text == vessels.render(result)
    assert "| predict zero |" in text and "Floor (every strategy's net" in text
    # SI minus the others, paired by seed; for an MSE a win is a negative difference
    scores = {(r["strategy"], r["seed"], r["round"]): r["score"] for r in result["records"]}
    assert {r["strategy"] for r in result["paired"]} == {
        "SI minus random-synthetic", "SI minus random-real", "random-synthetic minus random-real"}
    for row in result["paired"]:
        if row["quantity"] == "round":
            first, second = row["strategy"].split(" minus ")
            assert row["differences"] == pytest.approx(
                [scores[first, s, row["round"]] - scores[second, s, row["round"]]
                 for s in (0, 1)])
            assert row["wins"] == sum(d < 0 for d in row["differences"])
            assert f"| {row['strategy']} |" in text
    assert {f["strategy"] for f in result["calls"]} == set(strategies)
    assert all(c["n_mask_error"] + c["n_solver_error"] <= c["n_failed"] for c in result["calls"])
    # what is labeled is what is trained on: binary canonical inputs, relabeled identically
    checks = [c for c in result["calls"] if "binary" in c]
    assert len(checks) == 2 * 2
    assert all(c["binary"] and c["relabel_max_abs_diff"] < 1e-6 for c in checks)
    assert all(r["test_seconds"] == 0.0 for r in result["records"] if r["strategy"] == "mean-map")
    assert "## Time per strategy" in text
    png = tmp_path / "t.png"
    assert png.stat().st_size > 1000
    png.unlink()
    assert vessels.main(["--replot", str(tmp_path / "t.json")]) == 0 and png.is_file()
    assert (tmp_path / "t_records.csv").is_file() and not (tmp_path / "t_partial.json").exists()


def test_regression_tool_script(tmp_path):
    tool_study = script("regression_tool")
    strategies = list(tool_study.STRATEGIES)
    assert tool_study.main(["--pool-size", "150", "--test-size", "50", "--seeds", "0", "1",
                            "--rounds", "2", "--initial-size", "6", "--round-size", "4",
                            "--epochs", "2", "--hidden", "8", "--output-dir", str(tmp_path),
                            "--tag", "t"]) == 0
    result, text = check_report(tmp_path, "t", [*strategies, *tool_study.BASELINES],
                                paired=False)
    assert text == tool_study.render(result)
    # the baselines: zero, and the mean of random-real's labels, scored on the same test set
    scores = {(r["strategy"], r["seed"], r["round"]): r["score"] for r in result["records"]}
    assert scores["predict-zero", 0, 1] == pytest.approx(result["zero_mse"])
    assert scores["predict-mean", 1, 2] >= result["test_variance"] - 1e-9
    # paired against random-real; for an MSE a win is a negative difference
    for row in result["paired"]:
        assert row["reference"] == "random-real"
        if row["quantity"] == "round":
            assert row["differences"] == pytest.approx(
                [scores[row["strategy"], s, row["round"]] - scores["random-real", s, row["round"]]
                 for s in (0, 1)])
            assert row["wins"] == sum(d < 0 for d in row["differences"])
    ensemble = [r for r in result["records"]
                if r["strategy"] == "variance-real" and r["round"] == 2]
    assert all(0 < r["uncertainty_seconds"] <= r["mining_seconds"] for r in ensemble)
    assert {(c["strategy"], c["n_sent"]) for c in result["calls"]} == {(s, 10) for s in strategies}
    assert "| SI-variance | 20 | 0 | 100.0 % |" in text and "## Seconds" in text
    assert 0 < result["generator_check"]["explained_variance"] <= 1
    assert "Generator on the test set: " in text
    del result["generator_check"]  # a result written before it was recorded says so
    assert "reconstruction of the test set: not recorded" in tool_study.render(result)
    assert (tmp_path / "t_records.csv").is_file()


def test_vessel_uncertainty_script(tmp_path):
    study = script("vessel_uncertainty")
    strategies = ["random-real", "variance-real", "screened-prior", "SI-variance"]
    assert study.main([*VESSEL_OPTIONS, "--seeds", "0", "1", "--rounds", "2", "--initial-size",
                       "3", "--round-size", "2", "--train-steps", "2", "--widths", "4", "8",
                       "--ensemble-members", "2", "--n-jobs", "1", "--strategies", *strategies,
                       "--output-dir", str(tmp_path / "out"), "--cache-dir",
                       str(tmp_path / "cache"), "--tag", "t"]) == 0
    result, text = check_report(tmp_path / "out", "t", [*strategies, *study.BASELINES],
                                paired=False)
    assert text == study.render(result)
    # the labeled test set is cached in the cache folder, not next to the results
    assert len(list((tmp_path / "cache").glob("vessels_test_*.npz"))) == 1
    assert not list((tmp_path / "out").glob("*.npz"))
    scores = {(r["strategy"], r["seed"], r["round"]): r["score"] for r in result["records"]}
    assert scores["predict-zero", 1, 2] == pytest.approx(result["zero_mse"])
    for row in result["paired"]:  # every row minus random-real, seed by seed
        assert row["reference"] == "random-real"
        if row["quantity"] == "round":
            assert row["differences"] == pytest.approx(
                [scores[row["strategy"], s, row["round"]] - scores["random-real", s, row["round"]]
                 for s in (0, 1)])
    ensemble = [r for r in result["records"] if r["strategy"] == "SI-variance" and r["round"] == 2]
    assert all(0 < r["uncertainty_seconds"] <= r["mining_seconds"] for r in ensemble)
    assert {(c["strategy"], c["n_sent"] - c["n_failed"]) for c in result["calls"]} == {
        (s, 5) for s in strategies}
    assert "## Solver acceptance" in text and "| ratio to random-real, round (labels) |" in text
    assert "Deep ensemble of 2 members" in text
    assert result["controls"]["SI-variance"] == "screened-prior"


def test_study_runner_keeps_a_run_the_failure_budget_stopped(tmp_path):
    """A row whose tool refuses everything stops, is recorded as stopped, and the
    report says the rows are not paired instead of failing."""
    import dataclasses

    tool_study, study = script("regression_tool"), script("_study")

    def refusing_load(args):
        data = tool_study.load(args)

        def tool(X):
            raise ValueError("refused")
        data.tool = tool if args.strategies == ["SI-loss"] else data.tool
        return data

    definition = dataclasses.replace(tool_study.STUDY, load=refusing_load)
    options = ["--pool-size", "60", "--test-size", "20", "--seeds", "0", "--rounds", "2",
               "--initial-size", "4", "--round-size", "2", "--epochs", "1", "--hidden", "4",
               "--output-dir", str(tmp_path)]
    args = tool_study.build_parser().parse_args([*options, "--strategies", "SI-loss"])
    args.tag = "t"
    assert study.run_study(definition, args, options) == 0
    result = json.loads((tmp_path / "t.json").read_text())
    [call] = result["calls"]
    assert call["stopped"].startswith("Round 1 got 0 of the 4 labels")
    assert call["n_failed"] == call["n_sent"] > 0 and result["records"] == []
    assert result["paired"] is None and result["seeds_planned"] == [0]
    # the per-seed ratio to the reference, on the seeds and rounds both have
    records = [{"strategy": s, "seed": seed, "round": 1, "score": v}
               for s, seed, v in (("a", 0, 2.0), ("ref", 0, 4.0), ("a", 1, 3.0), ("ref", 1, 3.0),
                                  ("a", 2, 1.0))]
    assert study.ratio_to_reference(records, "ref") == {"a": {1: 0.75}, "ref": {1: 1.0}}


def test_duffing_tool_labels_and_refuses():
    tool_study = script("regression_tool")
    X, params = tool_study.make_forcings(4, random_state=0)
    tool = tool_study.DuffingTool()
    y = tool(X)
    assert y.shape == (4,) and np.all(y > 0)
    assert np.all(tool(np.zeros((2, 20))) == 0)  # at rest without forcing
    # small forcing: the cubic term is negligible, so the response scales linearly
    assert tool(X * 1e-3) == pytest.approx(1e-3 * tool_study.DuffingTool(beta=0.0)(X), rel=1e-3)
    with pytest.raises(ValueError, match="actuator"):
        tool(X * 10)
    with pytest.raises(ValueError, match="finite forcings of 20 samples"):
        tool(X[:, :10])


def test_vessel_generators_script(tmp_path):
    generators = script("vessel_generators")
    assert generators.main([*VESSEL_OPTIONS, "--n-draws", "5", "--n-fidelity", "1",
                            "--train-steps", "2", "--n-jobs", "1", "--generators", "pca", "sdf-pca",
                            "sdf-conv-vae", "--conv-channels", "4", "4", "--conv-epochs", "1",
                            "--output-dir", str(tmp_path), "--tag", "g"]) == 0
    result = json.loads((tmp_path / "g.json").read_text())
    assert list(result)[0] == "provenance" and len(result["provenance"]["commit"]) == 40
    assert result["provenance"]["command"].startswith(
        "python benchmarks/vessel_generators.py --pool-size 20")
    assert list(result["rows"]) == ["pca", "sdf-pca", "sdf-conv-vae"]
    text = (tmp_path / "g.md").read_text()
    assert text == generators.render(result)
    assert "Conv VAE (architecture='conv'): stride-2 levels (4, 4) with GroupNorm" in text
    assert f"zero {result['mse_zero']:.2f} kPa²" in text
    assert "| pca |" in text and "| sdf-pca |" in text and "| real test masks |" in text
    # a result written before the zero baseline was recorded says so
    del result["mse_zero"]
    assert "zero not recorded in this result" in generators.render(result)


def test_bench_memory_script(tmp_path):
    memory = script("bench_memory")
    out = tmp_path / "m.json"
    memory.main(["--synthetic", "--n-pool", "400", "--generator", "pca", "--fit-subset", "100",
                 "--round-size", "10", "--malloc", "default", "--output", str(out)])
    result = json.loads(out.read_text())
    assert result["pool"]["n_samples"] == 400 and "round_2" in result["phases"]
    assert "--synthetic" in result["provenance"]["command"]


def test_bench_vessel_solver_script(tmp_path):
    solver = script("bench_vessel_solver")
    out = tmp_path / "v.json"
    solver.main(["--n-masks", "1", "--output", str(out)])
    result = json.loads(out.read_text())
    assert result["speed"] and result["locking"]
    assert result["provenance"]["command"].startswith("python benchmarks/bench_vessel_solver.py")


def test_committed_reports_are_their_json_rendered():
    """Every committed report with a JSON companion is exactly its script's render of it."""
    render = script("render")
    pairs = render.reports()
    assert len(pairs) >= 15
    for json_path, md_path in pairs:
        result = json.loads(json_path.read_text())
        assert render.renderer(json_path)(result) == md_path.read_text(), md_path.name


def test_cache_key_follows_the_generator_code(tmp_path, monkeypatch):
    import shutil

    cache = script("_cache")
    settings = {"latent_dim": 3, "max_epochs": 20}
    package = tmp_path / "hardsample"
    shutil.copytree(cache.PACKAGE / "generators", package / "generators")
    monkeypatch.setattr(cache, "PACKAGE", package)
    before = cache.settings_key(settings)
    assert cache.settings_key(settings) == before  # stable
    assert cache.settings_key({**settings, "max_epochs": 21}) != before
    with open(package / "generators" / "vae.py", "a") as handle:
        handle.write("\n# an edit\n")
    assert cache.settings_key(settings) != before
    with pytest.raises(FileNotFoundError, match="no hardsample source"):
        cache.code_version("no_such_part")


def test_cache_folder_is_per_user_and_private(tmp_path, monkeypatch):
    cache = script("_cache")
    monkeypatch.delenv("HARDSAMPLE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = cache.cache_dir()
    assert folder == tmp_path / "xdg" / "hardsample" / "benchmarks"
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o777)
    with pytest.raises(PermissionError, match="HARDSAMPLE_CACHE"):
        cache.cache_dir()


@pytest.mark.parametrize("make", ["vae", "sdf-pca"])
def test_cached_model_round_trips_without_pickle(make, tmp_path, cache_folder):
    """A cached generator comes back equal (codes, decodes, prior draws), from a file of
    tensors and plain data; other settings, or a pickle, are refused before anything runs."""
    import torch

    from hardsample.datasets.vessels import make_vessel_masks
    from hardsample.generators import PCAGenerator, SDFGenerator, VAETransformer

    cache = script("_cache")
    if make == "vae":
        X = np.random.RandomState(0).rand(60, 1, 28, 28).astype(np.float32)
        template = VAETransformer(max_epochs=1, random_state=0, prior="aggregate")
    else:
        X = make_vessel_masks(30, random_state=0)[0].reshape(-1, 1, 64, 64)
        template = SDFGenerator(PCAGenerator(3, random_state=0), prior="aggregate")
    path = cache.cache_dir() / "model.pt"
    fitted, seconds = cache.cached_fit(path, template, X, {"k": 1})
    loaded, again = cache.cached_fit(path, template, X, {"k": 1})
    assert seconds > 0 and again == 0.0 and loaded is not fitted
    Z = fitted.transform(X[:4])
    np.testing.assert_array_equal(loaded.transform(X[:4]), Z)
    np.testing.assert_array_equal(loaded.inverse_transform(Z), fitted.inverse_transform(Z))
    np.testing.assert_array_equal(loaded.sample_codes(3, random_state=0),
                                  fitted.sample_codes(3, random_state=0))
    assert repr(loaded) == repr(fitted)
    with pytest.raises(ValueError, match="other settings"):
        cache.load_model(path, template, {"k": 2})
    torch.save({"format": cache.FORMAT, "code": print}, path)  # would need pickle
    with pytest.raises(ValueError, match="weights_only"):
        cache.load_model(path, template, {"k": 1})
    path.write_bytes(b"not a model")  # a damaged cache is fitted again, and replaced
    refitted, seconds = cache.cached_fit(path, template, X, {"k": 1})
    assert seconds > 0 and cache.cached_fit(path, template, X, {"k": 1})[1] == 0.0


def test_bench_scale_script(tiny_data, tmp_path):
    importorskip_unless_ci("faiss")
    scale = script("bench_scale")
    assert scale.main(["--sizes", "1500", "--dims", "3", "--data-dir", str(tmp_path / "pools"),
                       "--mnist", str(tiny_data / "mnist.npz"), "--round-size", "5",
                       "--n-labeled", "20", "--epochs", "1", "--repeats", "1",
                       # no query table: it builds pynndescent (minutes of numba compiling)
                       "--query-size", "0",
                       "--output-dir", str(tmp_path), "--tag", "tiny"]) == 0
    result = json.loads((tmp_path / "tiny.json").read_text())
    text = (tmp_path / "tiny.md").read_text()
    assert "1,500" in text and "latent-margin" in text
    assert len(result["header"]["commit"]) == 40


def test_bench_dask_encoding_script(tiny_data, tmp_path):
    encoding = script("bench_dask_encoding")
    assert encoding.main(["--size", "3000", "--pool-file", str(tmp_path / "absent.u8"),
                          "--mnist", str(tiny_data / "mnist.npz"), "--dim", "3",
                          "--chunk", "1000", "--repeats", "1", "--output-dir", str(tmp_path),
                          "--tag", "tiny"]) == 0
    result = json.loads((tmp_path / "tiny.json").read_text())
    assert [r["configuration"] for r in result["rows"]] == ["in-process", "1 worker",
                                                            "2 workers"]
    assert all(r["same_codes"] for r in result["rows"])
    text = (tmp_path / "tiny.md").read_text()
    assert text == encoding.render(result) and "2 workers over 1 worker" in text


@pytest.mark.parametrize("spec, match", [
    ("latnet-margin", "unknown strategy 'latnet-margin'"),
    ("margin+densest@latent", "bad round-1 selection 'densest@latent'"),
    ("margin+typiclust@pixels", "bad round-1 selection"),
])
def test_strategy_specs_are_checked(spec, match):
    strategies = script("_strategies")
    with pytest.raises(SystemExit, match=match):
        strategies.check_strategies(["random", spec])


def test_strategy_spec_sets_sampler_and_initial():
    from skorch import NeuralNetClassifier

    from hardsample import LatentHardMiningClassifier
    from hardsample.nets import MLP

    strategies = script("_strategies")
    base = LatentHardMiningClassifier(NeuralNetClassifier(MLP))
    built = strategies.strategies_from(base, ["margin", "latent-margin+centroid@pca"])
    assert built["margin"].initial == "random"
    initial = built["latent-margin+centroid@pca"].initial
    assert (initial.criterion, initial.space) == ("centroid", "pca")
    assert built["latent-margin+centroid@pca"].sampler == "latent-margin"


def test_mnist_variant_builds_a_bayesian_sampler_with_its_uncertainty_source():
    from hardsample.samplers import PowerBALDSampler
    from hardsample.uncertainty import DeepEnsemble, MCDropout

    mnist = script("mnist")
    built = mnist.build_variants([
        "pb=power-bald:uncertainty=DeepEnsemble,uncertainty__n_members=3,power=2.5",
        "mc=bald:uncertainty=MCDropout,uncertainty__n_samples=4"])
    assert isinstance(built["pb"], PowerBALDSampler) and built["pb"].power == 2.5
    assert isinstance(built["pb"].uncertainty, DeepEnsemble)
    assert built["pb"].uncertainty.n_members == 3
    assert built["mc"].uncertainty.get_params() == MCDropout(n_samples=4).get_params()


@pytest.mark.parametrize("spec, match", [
    ("b=bald:uncertainty__n_members=3", r"name it first as uncertainty=NAME"),
    ("b=bald:uncertainty=DeepEnsemble,uncertainty__members=3", "Invalid parameter 'members'"),
    ("b=bald:temperature=2", "unexpected keyword argument 'temperature'"),
])
def test_mnist_variant_rejects_bad_uncertainty_settings(spec, match):
    with pytest.raises(SystemExit, match=match):
        script("mnist").build_variants([spec])
