"""Attributes from PTB-XL labels: the official generation rules, quirks included."""

from __future__ import annotations

import pytest

from ecgqa_tools.errors import RecordNotFound, UsageError
from ecgqa_tools.qa import EcgAttributes, attributes_from_ptbxl_row, parse_extra_beats, parse_noise_leads
from ecgqa_tools.qa._report_leads import parse_lead_list, statement_leads_from_report


@pytest.mark.parametrize(
    ("cell", "leads"),
    [
        (" , I-AVR,  ", {"I", "II", "III", "aVR"}),
        ("alles", {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"}),
        ("I-ALF", {"I", "II", "III", "aVR", "aVL", "aVF"}),
        (" , I-V!,V5,V6,  ", {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V5", "V6"}),
        ("Kontaktprobleme aVL ???", {"aVL"}),
        (" , I --AVL,  ", {"I", "II", "III", "aVR", "aVL"}),
        ("v4-6", {"V4", "V5", "V6"}),
        (" , leicht,  ", set()),
        ("V1,V2,V&", {"V1", "V2"}),
        (None, set()),
    ],
)
def test_noise_cells(cell, leads) -> None:
    assert parse_noise_leads(cell) == frozenset(leads)


def test_extra_beats_kinds_and_leads() -> None:
    assert parse_extra_beats("1ES") == (frozenset({"extrasystoles"}), frozenset())
    kinds, leads = parse_extra_beats("VES1,alles")
    assert kinds == {"ventricular extrasystoles"} and len(leads) == 12
    kinds, leads = parse_extra_beats("2,V1")
    assert kinds == {"extrasystoles"} and leads == {"V1"}
    assert parse_extra_beats("1ES,SVES")[0] == {"extrasystoles", "supraventricular extrasystoles"}


def _row(**kw):
    row = {"scp_codes": "{'SR': 0.0}", "report": ""}
    row.update(kw)
    return row


def test_likelihoods_and_superclass_quirk() -> None:
    a = attributes_from_ptbxl_row(_row(scp_codes="{'NDT': 50.0, 'ISC_': 100.0, 'LAFB': 100.0, 'SR': 0.0}"))
    assert a.is_uncertain("non-diagnostic t abnormalities")
    assert a.has("non-specific ischemic", include_uncertain=False)
    # ISC_ (not letters only) does not make st/t change; NDT does
    assert a.superclasses() == ["conduction disturbance", "st/t change"]
    b = attributes_from_ptbxl_row(_row(scp_codes="{'ISC_': 100.0}"))
    assert b.superclasses() == []


def test_any_extra_systole_needs_leads() -> None:
    a = attributes_from_ptbxl_row(_row(extra_beats="1ES"))
    assert a.extra_systoles == {"extrasystoles"} and not a.has_extra_systole()
    b = attributes_from_ptbxl_row(_row(extra_beats="VES2,alles"))
    assert b.has_extra_systole()


def test_infarction_stage_precedence() -> None:
    def stages(s1, s2):
        return attributes_from_ptbxl_row(_row(infarction_stadium1=s1, infarction_stadium2=s2)).infarction_stages

    assert stages("Stadium I", None) == {"early stage of myocardial infarction"}
    assert stages("Stadium II-III", None) == {"middle stage of myocardial infarction"}
    assert stages("Stadium III", "Stadium III") == {"old stage of myocardial infarction"}
    assert stages("Stadium III", None) == set()  # as generated officially
    assert stages("unknown", None) == {"unknown stage of myocardial infarction"}
    assert stages("Stadium I", "Stadium II") == {"middle stage of myocardial infarction"}


def test_report_leads() -> None:
    report = "sinus rhythm. st segments are depressed in i, ii, avl, v5,6. t waves are inverted in i, avl."
    leads = statement_leads_from_report(report, {"STD_", "INVT", "NDT"})
    assert leads["STD_"] == ("I", "II", "aVL", "V5", "V6")
    assert leads["INVT"] == ("I", "aVL")
    anterolateral = statement_leads_from_report("anterolateral st-t wave changes which are non-diagnostic.", {"NST_"})
    assert anterolateral["NST_"] == ("I", "aVL", "V3", "V4", "V5", "V6")
    german = statement_leads_from_report("t abnormal in hochlateralen ableitungen", {"TAB_"})
    assert german["TAB_"] == ("I", "aVL")
    assert parse_lead_list("v1-3") == ("V1", "V2", "V3")
    assert statement_leads_from_report(report, set()) == {}


def test_attribute_validation_errors() -> None:
    with pytest.raises(UsageError, match="below, within or above"):
        EcgAttributes(numeric={"qt interval": "high"})
    with pytest.raises(UsageError, match="unknown lead"):
        EcgAttributes(noise={"static noise": frozenset({"V7"})})
    with pytest.raises(UsageError, match="0..100"):
        EcgAttributes(statements={"sinus rhythm": 150})


def test_ptbxl_folder_attributes(ptbxl_dir) -> None:
    from ecgqa_tools.qa import attributes_from_ptbxl

    a = attributes_from_ptbxl(ptbxl_dir, 1)
    assert a.ecg_id == 1 and a.has("normal ecg")
    assert a.noise["static noise"] == frozenset({"I", "II", "III", "aVR", "aVL", "aVF", "V1"})
    with pytest.raises(RecordNotFound):
        attributes_from_ptbxl(ptbxl_dir, 99_999_999)
