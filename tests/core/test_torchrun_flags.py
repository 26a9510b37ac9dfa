"""The image count's flag survives torchrun's own argument parser (issue 28).

torchrun parses its command line before the script's, and argparse takes any unknown ``--x`` that is a prefix of
one of torchrun's options for an abbreviation of it: ``--n`` could be --nnodes, --nproc-per-node, ... and torchrun
stops with ``ambiguous option: --n``. Every command with an image count takes ``--images`` as well, which torchrun
hands through to the script untouched; ``--n`` stays for one process.
"""

from __future__ import annotations

import argparse

import pytest

from optimist.core.cli import build_parser
from optimist.core.cli_apps import application_names

torchrun = pytest.importorskip("torch.distributed.run")

EVAL = ["eval", "--model", "M", "--threat", "linf:0.1"]
AUDIT = ["zoo", "audit"]
APP = [application_names()[0], "--model", "a=zoo:fashion-mnist/small-cnn/standard", "--out", "r"]
COMMANDS = {"eval": EVAL, "zoo audit": AUDIT, "application": APP}


def _torchrun(script_args: list[str]) -> argparse.Namespace:
    return torchrun.get_args_parser().parse_args(
        ["--standalone", "--nproc-per-node", "2", "/usr/bin/optimist", *script_args])


def _subparser(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flag", ["--images", "--n"])
def test_the_parser_takes_images_and_keeps_n(command, flag):
    argv = COMMANDS[command]
    args = build_parser(argv).parse_args([*argv, flag, "400"])
    assert args.n == 400


@pytest.mark.parametrize("command", COMMANDS)
def test_images_passes_through_torchrun_and_n_does_not(command, capsys):
    argv = [*COMMANDS[command], "--images", "400"]
    args = _torchrun(argv)
    assert args.training_script == "/usr/bin/optimist" and args.training_script_args == argv
    assert args.nproc_per_node == "2"  # torchrun's own options are read as before
    with pytest.raises(SystemExit):
        _torchrun([*COMMANDS[command], "--n", "400"])
    assert "ambiguous option: --n" in capsys.readouterr().err


@pytest.mark.parametrize("names", [("eval",), ("zoo", "audit"), (APP[0],)])
def test_every_other_flag_passes_through_torchrun(names):
    """No long option of these commands but --n (and --help) is one of torchrun's or a prefix of one."""
    parser = _subparser(build_parser(list(names)), *names)
    flags = [s for a in parser._actions for s in a.option_strings if s not in ("-h", "--help", "--n")]
    assert "--images" in flags
    for flag in flags:
        argv = [*names, flag, "1"]
        assert _torchrun(argv).training_script_args == argv, flag
