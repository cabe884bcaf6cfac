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
