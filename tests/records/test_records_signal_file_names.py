"""A WFDB header may only name signal files in its own folder (no absolute path, '..' or folder)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ecgqa_tools.errors import RecordError
from ecgqa_tools.records import example_path, list_examples, read_cinc, read_record, read_wfdb, read_wfdb_header


def _copy_example(folder: Path, name: str, signal_file: str) -> Path:
    source = Path(example_path(list_examples()[0]))
    base = source.with_suffix("") if source.suffix else source
    text = base.with_suffix(".hea").read_text().replace(f"{base.name}.dat", signal_file)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.hea").write_text(text)
    shutil.copy(base.with_suffix(".dat"), folder / "real.dat")
    return folder / name


@pytest.mark.parametrize("named", ["/etc/hostname", "../outside/secret.dat", "sub/real.dat", "..",
                                   "a..dat", "sub\\real.dat"])
def test_signal_file_names_with_a_folder_part_are_refused(tmp_path, named):
    base = _copy_example(tmp_path / "root", "x", named)
    for reader in (read_wfdb_header, read_wfdb, read_record, read_cinc):
        with pytest.raises(RecordError, match="plain file name in the header's folder") as info:
            reader(base)
        assert repr(named) in str(info.value) and "x.hea" in str(info.value)


def test_a_plain_signal_file_name_still_reads(tmp_path):
    base = _copy_example(tmp_path / "root", "x", "real.dat")
    ecg = read_record(base)
    assert ecg.signal_mv.shape[0] == 12 and ecg.path == str(base)


def test_bundled_examples_still_read():
    for name in list_examples():
        assert read_record(example_path(name)).signal_mv.shape[0] == 12


def test_real_dataset_records_still_read(ludb_dir, mitdb_dir, ptbdb_dir, ptbxl_dir):
    from ecgqa_tools.records import Ludb, PtbXl

    assert Ludb(ludb_dir).read(1).signal_mv.shape[0] == 12
    assert read_wfdb(mitdb_dir / "100", duration_s=10).signal_mv.shape == (2, 3600)
    assert PtbXl(ptbxl_dir).read(min(PtbXl(ptbxl_dir).present_ids())).signal_mv.shape[0] == 12
    ptb = sorted(ptbdb_dir.rglob("*.hea"))[0]
    assert read_record(ptb).signal_mv.shape[0] == 15
