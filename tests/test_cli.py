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


def test_tiny_demo_prints_table_and_writes_png(tmp_path, capsys):
    output = tmp_path / "curves.png"
    assert main(["demo", "--seeds", "2", "--rounds", "2", "--initial-size", "20",
                 "--round-size", "10", "--vae-epochs", "2", "--epochs", "3",
                 "--threads", "1", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "| nearest |" in printed and "| random |" in printed
    assert "±" in printed
    assert output.stat().st_size > 1000


def test_unknown_command():
    with pytest.raises(SystemExit):
        main(["nonsense"])
