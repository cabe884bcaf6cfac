import subprocess
import sys

import pytest

from hardsample.cli import build_parser, main


def test_help_documents_every_demo_option():
    parser = build_parser()
    demo = parser._subparsers._group_actions[0].choices["demo"]
    text = demo.format_help()
    for action in demo._actions:
        if action.option_strings and action.dest != "help":
            assert action.option_strings[0] in text
            assert action.help, f"{action.option_strings[0]} has no help"


def test_console_entry_point_help():
    result = subprocess.run([sys.executable, "-m", "hardsample.cli", "demo", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--seeds" in result.stdout and "--output" in result.stdout


def test_demo_defaults_compare_the_four_strategies():
    args = build_parser().parse_args(["demo"])
    assert args.samplers == ["random", "margin", "subsampled-margin", "nearest"]
    assert args.reference == "random" and args.seeds == 3
    assert not hasattr(args, "step_size")  # the step is a sampler's parameter


def test_tiny_demo_prints_tables_paired_differences_and_writes_png(tmp_path, capsys):
    output = tmp_path / "curves.png"
    assert main(["demo", "--seeds", "2", "--rounds", "2", "--initial-size", "20",
                 "--round-size", "10", "--vae-epochs", "1", "--epochs", "2",
                 "--threads", "1", "--no-progress", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    for name in ("random", "margin", "subsampled-margin", "nearest"):
        # accuracy, labels-to-reach and (but for the reference) paired tables
        expected = 2 if name == "random" else 3
        assert sum(line.startswith(f"| {name} | ") for line in lines) == expected, name
    # the paired table has a row per strategy other than the reference
    paired = [line for line in lines if line.startswith("| minus random (")]
    assert len(paired) == 1 and "| AUC | AUC wins/ties/losses |" in paired[0]
    for name in ("margin", "subsampled-margin", "nearest"):
        headline = [line for line in lines if line.startswith(f"{name} minus random, AUC: ")]
        assert len(headline) == 1 and "2 seeds:" in headline[0], name
    assert "labels to reach random's final score" in printed
    assert "1 (20) | 2 (30)" in printed and "±" in printed
    assert output.stat().st_size > 1000


def test_demo_rejects_unknown_sampler_and_missing_reference():
    with pytest.raises(SystemExit, match="unknown samplers"):
        main(["demo", "--samplers", "random", "nonsense"])
    with pytest.raises(SystemExit, match="--reference 'random'"):
        main(["demo", "--samplers", "entropy", "margin"])


def test_unknown_command():
    with pytest.raises(SystemExit):
        main(["nonsense"])


# hardsample label ---------------------------------------------------------------------

@pytest.fixture
def saved_run(tmp_path):
    """A run saved with joblib (only the public pending_ and classes_ matter) and a pool."""
    import types

    import joblib
    import numpy as np

    run = tmp_path / "run.joblib"
    joblib.dump(types.SimpleNamespace(pending_=np.array([4, 9]), classes_=np.arange(3)), run)
    pool = tmp_path / "pool.npy"
    np.save(pool, np.random.RandomState(0).rand(12, 16).astype(np.float32))
    return str(run), str(pool), str(tmp_path / "labels.csv")


def _label_args(saved_run, *extra):
    run, pool, labels = saved_run
    return build_parser().parse_args(["label", run, "--pool", pool, "--labels", labels, *extra])


def test_help_documents_every_label_option():
    label = build_parser()._subparsers._group_actions[0].choices["label"]
    text = label.format_help()
    for action in label._actions:
        if action.option_strings and action.dest != "help":
            assert action.option_strings[0] in text
            assert action.help, f"{action.option_strings[0]} has no help"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.org"])
def test_label_refuses_a_host_outside_the_loopback(saved_run, host):
    with pytest.raises(SystemExit, match=f"--host '{host}' refused: the page serves the loopback"):
        main(["label", *saved_run[:1], "--pool", saved_run[1], "--labels", saved_run[2],
              "--host", host])


@pytest.mark.parametrize("shape", ["28", "28x", "axb", "0x5", "2x3x4x5"])
def test_label_refuses_a_bad_image_shape(saved_run, shape, capsys):
    with pytest.raises(SystemExit):
        _label_args(saved_run, "--image-shape", shape)
    assert "is not HxW or HxWxC" in capsys.readouterr().err


def test_label_app_reads_the_runs_pending_batch_and_classes(saved_run):
    from hardsample.cli import label_app
    from hardsample.labeling import read_labels

    from .labeling.clients import client

    http = client(label_app(_label_args(saved_run)))
    batch = http.get("/api/batch").json()
    assert batch["pending"] == [4, 9] and batch["classes"] == [0, 1, 2]
    assert batch["kind"] == "table"
    assert http.post("/api/labels", json={"labels": {"9": 2}}).status_code == 200
    indices, labels = read_labels(saved_run[2])
    assert indices.tolist() == [9] and labels.tolist() == [2]
    # --image-shape shows the 16 values of a sample as a 4x4 image
    http = client(label_app(_label_args(saved_run, "--image-shape", "4x4")))
    assert http.get("/api/batch").json()["kind"] == "image"
    assert http.get("/sample/4.png").headers["content-type"] == "image/png"


@pytest.mark.parametrize("classes, expected", [(["cat", "dog"], ["cat", "dog"]),
                                               (["0", "7"], [0, 7])])
def test_label_classes_option_overrides_the_runs(saved_run, classes, expected):
    from hardsample.cli import label_app

    from .labeling.clients import client

    app = label_app(_label_args(saved_run, "--classes", *classes))
    assert client(app).get("/api/batch").json()["classes"] == expected


@pytest.mark.parametrize("run, message", [
    (dict(classes_=[0, 1]), "without pending_: save the estimator after a partial_fit"),
    (dict(pending_=[], classes_=[0, 1]), "pending_ is empty"),
    (dict(pending_=[1, 2]), "has no classes_ \\(a regressor\\?\\): give the classes"),
    (dict(pending_=[1, 12], classes_=[0, 1]), "must lie in \\[0, 12\\)"),
])
def test_label_explains_a_run_it_cannot_serve(saved_run, run, message):
    import types

    import joblib

    from hardsample.cli import label_app

    joblib.dump(types.SimpleNamespace(**run), saved_run[0])
    with pytest.raises(SystemExit, match=message):
        label_app(_label_args(saved_run))


def test_label_explains_missing_or_unreadable_files(saved_run, tmp_path):
    import numpy as np

    from hardsample.cli import label_app

    run, pool, labels = saved_run
    with pytest.raises(SystemExit, match="run file .*nothing.joblib does not exist"):
        label_app(build_parser().parse_args(
            ["label", str(tmp_path / "nothing.joblib"), "--pool", pool, "--labels", labels]))
    with pytest.raises(SystemExit, match="pool file .*nothing.npy does not exist"):
        label_app(build_parser().parse_args(
            ["label", run, "--pool", str(tmp_path / "nothing.npy"), "--labels", labels]))
    np.save(pool, np.array([{"a": 1}] * 12, dtype=object))     # pickles are not read
    with pytest.raises(SystemExit, match="cannot read the pool"):
        label_app(_label_args(saved_run))


def test_label_serves_until_saved_with_exit_after_save(saved_run, capsys):
    import json
    import re
    import threading
    import time
    import urllib.request

    from hardsample.labeling import read_labels

    result = {}
    argv = ["label", saved_run[0], "--pool", saved_run[1], "--labels", saved_run[2],
            "--port", "0", "--exit-after-save"]
    thread = threading.Thread(target=lambda: result.update(rc=main(argv)), daemon=True)
    thread.start()
    printed, deadline = "", time.monotonic() + 30
    while not (url := re.search(r"labeling page: (http://127\.0\.0\.1:\d+/)", printed)):
        assert time.monotonic() < deadline and thread.is_alive(), printed
        time.sleep(0.05)
        printed += capsys.readouterr().out
    request = urllib.request.Request(url.group(1) + "api/labels", method="POST",
                                     data=json.dumps({"labels": {"4": 1}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    thread.join(timeout=20)
    assert not thread.is_alive() and result == {"rc": 0}
    printed += capsys.readouterr().out
    assert "saved: 1 of 2 pending samples labeled, 1 labels in" in printed
    assert "apply_labels(y, " in printed
    assert read_labels(saved_run[2])[0].tolist() == [4]
