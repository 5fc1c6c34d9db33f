"""CLI consistency: every option documented, --fs everywhere a record is read, exit codes, notices."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from ecgqa_tools.cli import build_parser, main
from ecgqa_tools.records import STANDARD_LEADS


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_every_option_of_every_command_has_a_help_text_without_escapes():
    missing, escaped = [], []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction, argparse._VersionAction)):
                continue
            name = " ".join(path) + " " + "/".join(action.option_strings or [action.dest])
            if not action.help:
                missing.append(name)
        text = parser.format_help()
        if "%%" in text:
            escaped.append(" ".join(path))
    assert not missing, f"options without help: {missing}"
    assert not escaped, f"help with a literal '%%': {escaped}"


def test_choice_options_show_their_choices():
    parsers = dict(_parsers(build_parser()))
    assert "textbook" in parsers[("measure",)].format_help() and "ptbxl" in parsers[("measure",)].format_help()
    measure = next(a for a in parsers[("measure",)]._actions if "--axis-convention" in a.option_strings)
    assert measure.choices and "textbook" in measure.choices


def test_record_commands_share_fs(capsys):
    parsers = dict(_parsers(build_parser()))
    for command in ("info", "classify", "measure", "tokens", "plot", "ask", "chat"):
        options = {o for a in parsers[(command,)]._actions for o in a.option_strings}
        assert "--fs" in options, command
    help_text = parsers[("ask",)].format_help()
    assert "mimic:<study_id>" in help_text and "@100" in help_text


def _write_npy(path, signal):
    np.save(path, signal)
    return str(path)


def test_ask_fs_reads_a_rateless_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ECGQA_RECORD_ROOTS", raising=False)
    record = _write_npy(tmp_path / "flat.npy", np.zeros((12, 5000)))
    assert main(["ask", record, "Is this a normal ECG?"]) == 1
    err = capsys.readouterr().err
    assert "--fs HZ" in err and "have no --fs" not in err
    assert main(["ask", record, "Is this a normal ECG?", "--fs", "500", "--json"]) == 0
    assert "is flat" in json.loads(capsys.readouterr().out)["explanation"]


def test_ask_exits_1_when_a_tool_failed_but_0_when_out_of_scope(tmp_path, capsys, monkeypatch):
    import wfdb

    monkeypatch.delenv("ECGQA_RECORD_ROOTS", raising=False)
    t = np.arange(5000) / 500.0
    signal = np.stack([np.sin(2 * np.pi * 1.1 * t) * (1 + i / 5) for i in range(3)], axis=1)
    wfdb.wrsamp("three", fs=500, units=["mV"] * 3, sig_name=["I", "II", "V1"], p_signal=signal,
                fmt=["16"] * 3, write_dir=str(tmp_path))
    record = str(tmp_path / "three.hea")
    assert main(["ask", record, "Is this a normal ECG?", "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert not answer["supported"] and answer["failed"] and answer["explanation"].startswith("Could not answer")
    assert main(["ask", record, "What will the weather be tomorrow?", "--json"]) == 0
    out_of_scope = json.loads(capsys.readouterr().out)
    assert not out_of_scope["supported"] and not out_of_scope["failed"]


def test_spelled_out_choices_match_the_library():
    from ecgqa_tools.grounding import AXIS_CONVENTIONS, DEFAULT_BASELINE_BY_DISEASE, IG_VARIANTS
    from ecgqa_tools.grounding._cli_measure import AXIS_CONVENTION_NAMES
    from ecgqa_tools.grounding._cli_plot import IG_VARIANT_NAMES

    assert AXIS_CONVENTION_NAMES == tuple(AXIS_CONVENTIONS)
    assert set(IG_VARIANT_NAMES) == set(IG_VARIANTS)
    plot_help = " ".join(dict(_parsers(build_parser()))[("plot",)].format_help().split())
    for disease, baseline in DEFAULT_BASELINE_BY_DISEASE.items():
        assert disease in plot_help and baseline in plot_help
    assert "low-passed copy" not in plot_help


def test_description_percent_signs_print_once(capsys):
    assert main(["eval", "classifiers", "--help"]) == 0
    out = capsys.readouterr().out
    assert "95% CIs" in out and "%%" not in out
    assert main(["eval", "--help"]) == 0
    assert "%%" not in capsys.readouterr().out


def test_qa_parse_help_says_words_are_joined():
    parse = dict(_parsers(build_parser()))[("qa", "parse")]
    assert "joined" in parse.format_help()


def test_plain_plot_footer_mentions_no_attributions(tmp_path, capsys):
    import matplotlib.pyplot as plt

    from ecgqa_tools.grounding import plot_ecg
    from ecgqa_tools.records import load_example

    fig = plot_ecg(load_example("ptbxl-00473"))
    texts = " ".join(t.get_text() for t in fig.texts)
    plt.close(fig)
    assert "not for clinical use" in texts and "Attributions" not in texts
    fig = plot_ecg(load_example("ptbxl-00473"), record_name="example:ptbxl-00473")
    texts = " ".join(t.get_text() for t in fig.texts)
    plt.close(fig)
    assert "12-lead ECG example:ptbxl-00473" in texts and "record example:ptbxl-00473 " in texts
    assert main(["plot", "ptbxl-00473", "-o", str(tmp_path / "x.png"), "--baseline", "flat"]) == 1
    assert "--baseline needs --explain" in capsys.readouterr().err
    out = tmp_path / "new" / "folder" / "x.png"  # -o creates missing folders like every output (_io)
    assert main(["plot", "ptbxl-00473", "-o", str(out)]) == 0 and out.stat().st_size > 0


@pytest.mark.parametrize("command", ["classify", "measure", "tokens", "info"])
def test_json_output_names_the_record_canonically_and_carries_the_notice(command, capsys):
    from ecgqa_tools import DISCLAIMER

    assert main([command, "473", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["record"] == "example:ptbxl-00473"
    assert data["disclaimer"] == DISCLAIMER
    assert main([command, "ptbxl-00473"]) == 0
    assert "record example:ptbxl-00473" in capsys.readouterr().out


def test_every_record_argument_documents_the_same_names():
    from ecgqa_tools.cli import RECORD_HELP

    seen = []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.dest == "record" and not action.option_strings:
                seen.append(" ".join(path))
                assert action.help.startswith(RECORD_HELP), path
    assert {"info", "classify", "measure", "tokens", "plot", "ask", "chat", "bench xai-speed"} <= set(seen)
    assert "mimic:<study_id>" in RECORD_HELP and "@100" in RECORD_HELP
