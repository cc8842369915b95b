"""The project's foundation: registry contract, operator lookup and CLI dispatch."""

import pytest
import torch
from stbench.cli import main
from stbench.models.operators import make_operator


def test_unknown_operator_names_the_allowed_ones():
    with pytest.raises(ValueError, match="operator: got 'nope'; allowed: .*2d"):
        make_operator("nope", 4, 4)


@pytest.mark.parametrize("op", ["2d", "3d"])
def test_operator_keeps_5d_layout(op):
    m = make_operator(op, 4, 6, kernel_size=3, stride=2)
    y = m(torch.zeros(2, 4, 3, 8, 8))
    assert y.shape == (2, 6, 3, 4, 4)


def test_2d_operator_refuses_temporal_stride():
    with pytest.raises(ValueError, match="temporal_stride: got 2 for operator '2d'; allowed: 1"):
        make_operator("2d", 4, 4, temporal_stride=2)


def test_cli_without_command_prints_help(capsys):
    assert main([]) == 2
    assert "usage: stbench" in capsys.readouterr().out


def test_unknown_override_is_a_value_error_naming_it():
    from stbench.zoo import create_model

    with pytest.raises(ValueError, match=r"^foo: got 1; allowed: an option of video_resnet \("):
        create_model("tsn_resnet18", foo=1)


def test_closed_stdout_is_not_a_traceback(monkeypatch):
    import stbench.cli as cli_mod

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    parser = cli_mod.build_parser()
    args = parser.parse_args(["list"])
    args.func = closed_pipe
    monkeypatch.setattr(parser, "parse_args", lambda argv: args)
    monkeypatch.setattr(cli_mod, "build_parser", lambda: parser)
    monkeypatch.setattr(cli_mod.os, "dup2", lambda fd, fd2: None)  # keep pytest's stdout
    assert main(["list"]) == 0
