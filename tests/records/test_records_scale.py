"""MIMIC-IV-ECG presence for a few studies of a large listing: only the studies asked about are
checked (no walk of the whole tree), with the same answer as the full walk."""

from __future__ import annotations

import os

import pytest

from ecgqa_tools.records import MimicIvEcg

LISTED = 2_000  # a record_list.csv of this many studies; only a few have files


def _rel(study: int, subject: int) -> str:
    return f"files/p{str(subject)[:4]}/p{subject}/s{study}/{study}"


@pytest.fixture()
def large_listing(tmp_path):
    rows = ["subject_id,study_id,file_name,ecg_time,path"]
    studies = [40_000_000 + 7 * i for i in range(LISTED)]
    for i, study in enumerate(studies):
        rows.append(f"{10_000_000 + i // 4},{study},{study},2180-07-23 08:44:00,{_rel(study, 10_000_000 + i // 4)}")
    (tmp_path / "record_list.csv").write_text("\n".join(rows) + "\n")
    both, header_only = studies[10:20], studies[20:25]
    for study in both + header_only:
        base = tmp_path / _rel(study, 10_000_000 + studies.index(study) // 4)
        base.parent.mkdir(parents=True)
        base.with_name(base.name + ".hea").write_text("x")
        if study in both:
            base.with_name(base.name + ".dat").write_bytes(b"\0")
    return tmp_path, studies, set(both)


def test_present_among_checks_only_the_studies_asked(large_listing, monkeypatch) -> None:
    root, studies, present = large_listing
    asked = set(studies[:30]) | {12_345}  # 10 with files, 5 header only, 15 absent, 1 unlisted
    full_walk = MimicIvEcg(root).present_ids()
    assert full_walk == present

    def no_walk(*args, **kwargs):
        raise AssertionError("present_among walked the tree")

    monkeypatch.setattr(os, "walk", no_walk)
    assert MimicIvEcg(root).present_among(asked) == present
    assert MimicIvEcg(root).present_among([studies[15], studies[500]]) == {studies[15]}
    assert MimicIvEcg(root).present_among([]) == frozenset()


def test_present_ids_of_a_complete_copy_checks_each_listed_study(tmp_path, monkeypatch) -> None:
    """Every listed study present (a complete copy): the listing is checked study by study, without
    walking the tree, with the same answer; a study missing its .dat is left out."""
    rows = ["subject_id,study_id,file_name,ecg_time,path"]
    studies = [40_000_000 + i for i in range(300)]
    for study in studies:
        rel = _rel(study, 10_000_000 + study % 1000)
        rows.append(f"{10_000_000 + study % 1000},{study},{study},2180-07-23 08:44:00,{rel}")
        base = tmp_path / rel
        base.parent.mkdir(parents=True)
        base.with_name(base.name + ".hea").write_text("x")
        if study != studies[7]:
            base.with_name(base.name + ".dat").write_bytes(b"\0")
    (tmp_path / "record_list.csv").write_text("\n".join(rows) + "\n")
    expected = frozenset(studies) - {studies[7]}
    assert MimicIvEcg(tmp_path)._walk_present() == expected

    def no_walk(*args, **kwargs):
        raise AssertionError("present_ids walked a complete tree")

    monkeypatch.setattr(os, "walk", no_walk)
    mimic = MimicIvEcg(tmp_path)
    assert mimic.present_ids() == expected
    assert mimic.missing_ids() == {studies[7]}


def _claiming_header(folder, n_samples: int, fs_hz: int = 5000) -> str:
    leads = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
    lines = [f"claims 12 {fs_hz} {n_samples}"] + [f"claims.dat 16 1000.0(0)/mV 16 0 0 0 0 {lead}" for lead in leads]
    (folder / "claims.hea").write_text("\n".join(lines) + "\n")
    (folder / "claims.dat").write_bytes(b"\0" * 24 * 100)
    return str(folder / "claims.hea")


def test_header_claiming_a_billion_samples_is_refused(tmp_path, capsys) -> None:
    """A header claiming 10^9 samples over a tiny signal file: a RecordError from the header alone
    (nothing allocated), and `ecgqa ask` prints it without a traceback."""
    from ecgqa_tools.cli import main
    from ecgqa_tools.errors import RecordError
    from ecgqa_tools.records import read_record

    path = _claiming_header(tmp_path, 10**9)
    # session 8: the header/file-size mismatch is named first (was "record is 55.6 h long")
    with pytest.raises(RecordError, match=r"claims\.dat: signal file is truncated.*1,000,000,000 samples"):
        read_record(path)
    assert main(["ask", path, "Does this ECG show atrial fibrillation?"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "truncated" in err and "Traceback" not in err
