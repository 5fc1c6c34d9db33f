from ecgqa_tools.cli import GROUPS, main


def test_help_lists_every_command_with_a_description(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "info" in out
    assert "not for clinical use" in out


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2


def test_package_errors_print_error_line_and_exit_1(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.hea" in err
    assert "Traceback" not in err


def test_groups_have_descriptions():
    assert all(GROUPS.values())
