import tomllib
from fnmatch import fnmatch
from pathlib import Path

from ecgqa_tools.cli import GROUPS, build_parser, main


def _subcommands(parser):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            return action
    return None


def test_help_lists_every_command_with_a_description(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "info" in out and "data" in out
    assert "not for clinical use" in out
    top = _subcommands(build_parser())
    helps = {choice.dest: choice.help for choice in top._choices_actions}
    assert helps and all(helps.values()), f"commands without a one-line description: {helps}"
    for name in helps:
        assert name in out


def test_every_group_subcommand_has_a_description():
    top = _subcommands(build_parser())
    for group, parser in top.choices.items():
        sub = _subcommands(parser)
        if sub is None:
            continue
        assert group in GROUPS
        assert all(choice.help for choice in sub._choices_actions), group


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2


def test_group_without_subcommand_shows_its_help(capsys):
    assert main(["data"]) == 2
    assert "check" in capsys.readouterr().err


def test_package_errors_print_error_line_and_exit_1(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.hea" in err
    assert "Traceback" not in err


def test_info_on_a_bundled_example(capsys):
    assert main(["info", "ptbxl-00473"]) == 0
    out = capsys.readouterr().out
    assert "record example:ptbxl-00473 (ptbxl record 473)" in out and "500 Hz, 5000 samples, 10.0 s" in out


def test_groups_have_descriptions():
    assert all(GROUPS.values())


def test_bundled_examples_are_declared_package_data():
    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    files = [p for p in (root / "ecgqa_tools" / "records" / "examples").iterdir() if p.is_file()]
    assert len(files) >= 11
    assert all(any(fnmatch(p.name, pat) for pat in patterns) for p in files), patterns
