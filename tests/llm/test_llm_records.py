"""Record references: dataset ids, bundled examples, paths only inside the configured roots."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ecgqa_tools.errors import RecordNotFound
from ecgqa_tools.llm import TOOLS, ToolContext, allowed_roots, parse_record_ref
from ecgqa_tools.records import list_examples


def _write_wfdb(folder: Path, name: str = "rec") -> Path:
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(2000) / 500.0
    signal = np.stack([np.sin(2 * np.pi * 1.2 * t) * (1 + i / 10) for i in range(12)], axis=1)
    wfdb.wrsamp(name, fs=500, units=["mV"] * 12, sig_name=["I", "II", "III", "aVR", "aVL", "aVF",
                "V1", "V2", "V3", "V4", "V5", "V6"], p_signal=signal, fmt=["16"] * 12, write_dir=str(folder))
    return folder / name


@pytest.fixture
def isolated_roots(tmp_path, monkeypatch):
    for var in ("ECGQA_DATA_DIR", "ECGQA_PTBXL_DIR", "ECGQA_LUDB_DIR", "ECGQA_MIMIC_DIR", "ECGQA_ECGQA_DIR"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "root"
    monkeypatch.setenv("ECGQA_RECORD_ROOTS", str(root))
    return root


@pytest.mark.parametrize(("text", "canonical"), [
    ("ptbxl:12", "ptbxl:12"), ("PTBXL/12", "ptbxl:12"), ("12", "ptbxl:12"), ("ludb: 7", "ludb:7"),
    ("mimic:40000017", "mimic:40000017"),
])
def test_dataset_ids(text, canonical):
    ref = parse_record_ref(text)
    assert ref.canonical == canonical and ref.kind == "dataset"


def test_bundled_examples_by_name():
    name = list_examples()[0]
    assert parse_record_ref(name).canonical == f"example:{name}"
    assert parse_record_ref(f"example:{name}").key == name
    with pytest.raises(RecordNotFound, match="no bundled example"):
        parse_record_ref("example:nope")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 600, "a\x00b"])
def test_empty_or_absurd_references_are_refused(bad):
    with pytest.raises(RecordNotFound):
        parse_record_ref(bad)


def test_path_inside_a_configured_root_is_accepted(isolated_roots):
    base = _write_wfdb(isolated_roots / "sub")
    for text in (str(base), str(base) + ".hea", "sub/rec"):
        ref = parse_record_ref(text)
        assert ref.kind == "path" and ref.key == str(base.resolve())
    ctx = ToolContext(backend=None)
    out = TOOLS.run("record_summary", ctx, record=str(base))
    assert out.fs_hz == 500 and len(out.leads) == 12


def test_dotdot_escapes_are_refused_even_when_the_target_is_inside(isolated_roots):
    base = _write_wfdb(isolated_roots / "sub")
    with pytest.raises(RecordNotFound, match=r"contains '\.\.'"):
        parse_record_ref(str(isolated_roots / "sub" / ".." / "sub" / "rec"))
    with pytest.raises(RecordNotFound, match=r"'\.\.'"):
        parse_record_ref("../../../../etc/passwd")
    assert base.with_suffix(".hea").exists()


def test_paths_outside_the_roots_are_refused(isolated_roots, tmp_path):
    outside = _write_wfdb(tmp_path / "elsewhere")
    with pytest.raises(RecordNotFound, match="outside the allowed data roots"):
        parse_record_ref(str(outside))
    with pytest.raises(RecordNotFound):
        parse_record_ref("/etc/passwd")


def test_symlink_out_of_a_root_is_refused(isolated_roots, tmp_path):
    outside = _write_wfdb(tmp_path / "secret")
    isolated_roots.mkdir(parents=True, exist_ok=True)
    os.symlink(tmp_path / "secret", isolated_roots / "link")
    with pytest.raises(RecordNotFound):
        parse_record_ref(str(isolated_roots / "link" / "rec"))
    assert outside.with_suffix(".hea").exists()


def test_a_tool_asked_to_read_another_file_returns_a_refusal(isolated_roots):
    ctx = ToolContext(backend=None)
    for sneaky in ("/etc/passwd", "../../../etc/shadow", "~/.ssh/id_rsa"):
        result = TOOLS.call("record_summary", {"record": sneaky}, ctx)
        assert not result.ok
        assert "passwd" not in (result.output.model_dump_json() if result.output else "")
        assert "root:" not in result.error


def test_roots_listed_are_existing_folders(isolated_roots):
    isolated_roots.mkdir(parents=True, exist_ok=True)
    roots = allowed_roots()
    assert isolated_roots.resolve() in roots and all(r.is_dir() for r in roots)


def test_ptbxl_record_by_id_loads(ptbxl_dir):
    ctx = ToolContext(backend=None)
    out = TOOLS.run("record_summary", ctx, record="ptbxl:1")
    assert out.record == "ptbxl:1" and len(out.leads) == 12 and out.duration_s == pytest.approx(10.0)


def _header_naming(folder: Path, name: str, signal_file: str) -> Path:
    """A copy of a valid 12-lead header whose signal lines name ``signal_file``."""
    base = _write_wfdb(folder / "_src", name)
    text = base.with_suffix(".hea").read_text().replace(f"{name}.dat", signal_file)
    (folder / f"{name}.hea").write_text(text)
    return base.with_suffix(".dat")


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "subfolder"])
def test_a_header_naming_a_signal_file_outside_its_folder_is_refused(isolated_roots, tmp_path, kind):
    secret = _write_wfdb(tmp_path / "outside", "secret").with_suffix(".dat")
    (isolated_roots / "sub").mkdir(parents=True)
    named = {"absolute": str(secret), "dotdot": "../../outside/secret.dat", "subfolder": "sub2/secret.dat"}[kind]
    _header_naming(isolated_roots, "x", named)
    ctx = ToolContext(backend=None)
    result = TOOLS.call("record_summary", {"record": "x"}, ctx)
    assert not result.ok and "plain file name" in result.error and repr(named) in result.error


def test_a_symlinked_header_or_signal_file_leaving_the_root_is_refused(isolated_roots, tmp_path):
    secret = _write_wfdb(tmp_path / "outside", "secret")
    isolated_roots.mkdir(parents=True)
    os.symlink(secret.with_suffix(".hea"), isolated_roots / "z.hea")  # z.hea -> a header outside
    with pytest.raises(RecordNotFound, match=r"z\.hea resolves to .*outside the allowed data roots"):
        parse_record_ref("z")
    signal = _header_naming(isolated_roots, "v", "v.dat")
    os.symlink(secret.with_suffix(".dat"), isolated_roots / "v.dat")  # v.dat -> a signal file outside
    assert signal.exists()
    with pytest.raises(RecordNotFound, match=r"v\.dat resolves to .*outside the allowed data roots"):
        parse_record_ref(str(isolated_roots / "v.hea"))
    ctx = ToolContext(backend=None)
    assert not TOOLS.call("record_summary", {"record": "v"}, ctx).ok


def test_a_symlink_staying_inside_the_root_is_accepted(isolated_roots):
    base = _write_wfdb(isolated_roots / "sub")
    os.symlink(base.with_suffix(".hea"), isolated_roots / "alias.hea")
    os.symlink(base.with_suffix(".dat"), isolated_roots / "rec.dat")
    assert parse_record_ref("alias.hea").key == str(base.resolve())
    ref = parse_record_ref("alias")  # alias.hea names rec.dat: a link to sub/rec.dat, inside the root
    assert ref.key == str((isolated_roots / "alias").resolve())
    out = TOOLS.run("record_summary", ToolContext(backend=None), record="alias")
    assert out.fs_hz == 500 and len(out.leads) == 12


@pytest.mark.parametrize("fs_hz", [None, 500.0])
@pytest.mark.parametrize("rate_in_header", [True, False])
def test_a_symlinked_signal_file_is_refused_whether_or_not_the_header_gives_a_rate(
        isolated_roots, tmp_path, fs_hz, rate_in_header):
    """Review s8 C1: a header without a rate, readable with a session's fs_hz, named a symlink
    leaving the root and the guard skipped it (the rate check made its header parse fail)."""
    secret = _write_wfdb(tmp_path / "outside", "secret")
    isolated_roots.mkdir(parents=True)
    _header_naming(isolated_roots, "y", "link.dat")
    if not rate_in_header:
        lines = (isolated_roots / "y.hea").read_text().splitlines()
        lines[0] = " ".join(lines[0].split()[:2])  # 'y 12': the record line without a rate
        (isolated_roots / "y.hea").write_text("\n".join(lines) + "\n")
    os.symlink(secret.with_suffix(".dat"), isolated_roots / "link.dat")
    ctx = ToolContext(backend=None, extra_roots=[isolated_roots], fs_hz=fs_hz)
    with pytest.raises(RecordNotFound, match=r"link\.dat resolves to .*outside the allowed data roots"):
        ctx.load(str(isolated_roots / "y.hea"))


def test_a_header_that_cannot_be_parsed_refuses_the_record(isolated_roots):
    isolated_roots.mkdir(parents=True)
    (isolated_roots / "bad.hea").write_text("bad twelve 500\n")
    with pytest.raises(RecordNotFound, match=r"malformed WFDB header.*refused"):
        parse_record_ref(str(isolated_roots / "bad.hea"))
