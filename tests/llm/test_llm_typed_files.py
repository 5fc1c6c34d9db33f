"""A record file typed on the command line is allowed alone: never its folder's other files."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from ecgqa_tools.errors import RecordNotFound
from ecgqa_tools.llm import TOOLS
from ecgqa_tools.llm._cli_llm import _context, _user_paths
from ecgqa_tools.records import STANDARD_LEADS

from .conftest import synthetic_ecg


def _npz(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, signal=synthetic_ecg().signal_mv, fs_hz=500.0, lead_names=np.array(STANDARD_LEADS))
    return path


def _wfdb(folder, name):
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=500, units=["mV"] * 12, sig_name=list(STANDARD_LEADS),
                p_signal=synthetic_ecg().signal_mv.T, fmt=["16"] * 12, write_dir=str(folder))
    return folder / name


@pytest.fixture
def no_roots(monkeypatch):
    for var in ("ECGQA_DATA_DIR", "ECGQA_PTBXL_DIR", "ECGQA_LUDB_DIR", "ECGQA_MIMIC_DIR", "ECGQA_ECGQA_DIR",
                "ECGQA_RECORD_ROOTS"):
        monkeypatch.delenv(var, raising=False)


def _cli_context(record: str, compare: str | None = None):
    args = argparse.Namespace(record=record, compare=compare, data_root=[])
    _user_paths(args)
    return args, _context(args)


def test_typed_relative_file_works_and_its_siblings_do_not(no_roots, tmp_path, monkeypatch):
    typed = _npz(tmp_path / "mine.npz")
    sibling = _npz(tmp_path / "other.npz")
    nested = _npz(tmp_path / "sub" / "mine.npz")
    monkeypatch.chdir(tmp_path)
    args, ctx = _cli_context("mine.npz")
    assert args.record == str(typed.resolve()) and args.data_root == []
    for name in ("mine.npz", str(typed), args.record):
        assert ctx.ref(name).canonical == f"path:{typed.resolve()}"
    assert TOOLS.run("record_summary", ctx, record="mine.npz").fs_hz == 500
    for refused in ("other.npz", str(sibling), "sub/mine.npz", str(nested), str(tmp_path)):
        with pytest.raises(RecordNotFound):
            ctx.ref(refused)
    result = TOOLS.call("record_summary", {"record": str(sibling)}, ctx)
    assert not result.ok and "outside the allowed data roots" in result.error


def test_typed_wfdb_header_allows_its_companion_files_only(no_roots, tmp_path, monkeypatch):
    base = _wfdb(tmp_path / "d", "rec")
    _wfdb(tmp_path / "d", "rec2")
    _wfdb(tmp_path / "d" / "sub", "rec")
    monkeypatch.chdir(tmp_path / "d")
    _, ctx = _cli_context("rec.hea")
    for name in ("rec", "rec.hea", "rec.dat", str(base), str(base) + ".hea"):
        assert ctx.ref(name).key == str(base.resolve())
    for refused in ("rec2", "rec2.hea", str(tmp_path / "d" / "rec2"), "sub/rec", str(tmp_path / "d" / "sub" / "rec.hea")):
        with pytest.raises(RecordNotFound):
            ctx.ref(refused)


def test_compare_file_is_allowed_too_and_nothing_else(no_roots, tmp_path):
    first, second = _npz(tmp_path / "a" / "one.npz"), _npz(tmp_path / "b" / "two.npz")
    _npz(tmp_path / "b" / "three.npz")
    _, ctx = _cli_context(str(first), compare=str(second))
    assert ctx.ref(str(second)).canonical == f"path:{second.resolve()}"
    with pytest.raises(RecordNotFound):
        ctx.ref(str(tmp_path / "b" / "three.npz"))


def test_a_file_at_the_filesystem_top_would_not_open_the_root(no_roots, tmp_path):
    """A file typed at '/' must not open '/': here the typed file's folder is an ancestor of every
    probe (the same situation below tmp_path), and each probe is an existing readable record."""
    typed = _npz(tmp_path / "x.npz")
    probes = [_npz(tmp_path / "y.npz"), _npz(tmp_path / "a" / "y.npz"), _npz(tmp_path / "a" / "b" / "z.npz")]
    _, ctx = _cli_context(str(typed))
    assert ctx.ref(str(typed)).key == str(typed.resolve())
    for probe in probes:
        assert all(probe.is_relative_to(parent) for parent in typed.parents)
        with pytest.raises(RecordNotFound, match="outside the allowed data roots"):
            ctx.ref(str(probe))
    with pytest.raises(RecordNotFound):
        ctx.ref("/etc/hostname")


def test_typed_symlink_allows_its_target(no_roots, tmp_path, monkeypatch):
    target = _npz(tmp_path / "store" / "real.npz")
    link = tmp_path / "work" / "link.npz"
    link.parent.mkdir()
    link.symlink_to(target)
    monkeypatch.chdir(tmp_path / "work")
    args, ctx = _cli_context("link.npz")
    assert args.record == str(target.resolve())
    for name in ("link.npz", str(link), str(target)):
        assert ctx.ref(name).key == str(target.resolve())
    assert TOOLS.run("record_summary", ctx, record="link.npz").fs_hz == 500


def test_sibling_symlink_to_another_record_is_refused(no_roots, tmp_path, monkeypatch):
    _npz(tmp_path / "d" / "mine.npz")
    secret = _npz(tmp_path / "elsewhere" / "secret.npz")
    alias = tmp_path / "d" / "alias.npz"
    alias.symlink_to(secret)
    monkeypatch.chdir(tmp_path / "d")
    _, ctx = _cli_context("mine.npz")
    for refused in ("alias.npz", str(alias), str(secret)):
        with pytest.raises(RecordNotFound, match="outside the allowed data roots"):
            ctx.ref(refused)
    result = TOOLS.call("record_summary", {"record": "alias.npz"}, ctx)
    assert not result.ok and "outside the allowed data roots" in result.error


def test_typed_dotted_record_allows_itself_not_its_undotted_sibling(no_roots, tmp_path, monkeypatch):
    import wfdb

    from ecgqa_tools.llm._cli_llm import _typed_path
    from ecgqa_tools.llm._records import load_record
    from ecgqa_tools.records import read_record

    written = _wfdb(tmp_path / "d", "recv2")  # wfdb.wrsamp refuses dots in names: rename after writing
    for suffix in (".hea", ".dat"):
        text = (tmp_path / "d" / f"recv2{suffix}").read_bytes()
        (tmp_path / "d" / f"rec.v2{suffix}").write_bytes(text.replace(b"recv2", b"rec.v2") if suffix == ".hea" else text)
        (tmp_path / "d" / f"recv2{suffix}").unlink()
    dotted = written.with_name("rec.v2")
    plain = tmp_path / "d" / "rec"
    wfdb.wrsamp("rec", fs=500, units=["mV"] * 12, sig_name=list(STANDARD_LEADS),
                p_signal=2 * synthetic_ecg().signal_mv.T, fmt=["16"] * 12, write_dir=str(tmp_path / "d"))
    monkeypatch.chdir(tmp_path / "d")
    _, ctx = _cli_context("rec.v2.hea")
    seen = load_record(ctx.ref("rec.v2.hea")).signal_mv
    np.testing.assert_allclose(seen, read_record(dotted).signal_mv)
    assert not np.allclose(seen, read_record(plain).signal_mv)
    for name in ("rec.v2", "rec.v2.hea", "rec.v2.dat", str(dotted) + ".hea"):
        assert ctx.ref(name).key == str(dotted.resolve())
    for refused in ("rec", "rec.hea", "rec.dat", str(plain), str(plain) + ".hea"):
        with pytest.raises(RecordNotFound):
            ctx.ref(refused)
    (tmp_path / "d" / "rec.v2.hea").unlink()
    (tmp_path / "d" / "rec.v2.dat").unlink()
    files: list[str] = []
    assert _typed_path(str(tmp_path / "d" / "rec.v2"), files) == str(tmp_path / "d" / "rec.v2") and files == []
    with pytest.raises(RecordNotFound):
        read_record(tmp_path / "d" / "rec.v2")


def test_refusal_names_the_typed_record_when_no_roots_are_configured(no_roots, tmp_path, monkeypatch):
    import ecgqa_tools.llm._records as llm_records

    typed = _npz(tmp_path / "mine.npz")
    other = _npz(tmp_path / "other.npz")
    monkeypatch.setattr(llm_records, "_examples_dir", lambda: None)
    _, ctx = _cli_context(str(typed))
    with pytest.raises(RecordNotFound) as refused:
        ctx.ref(str(other))
    message = str(refused.value)
    assert "allowed data roots (none configured)" in message and "()" not in message
    assert f"only the record file(s) named on the command line may be read: {typed.resolve()}" in message
