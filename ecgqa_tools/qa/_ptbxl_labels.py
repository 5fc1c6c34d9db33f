"""ECG-QA attributes of PTB-XL records derived from ``ptbxl_database.csv`` labels alone.

The rules were reverse-engineered from the official ECG-QA v1.0.2 samples (see docs/qa.md):
SCP codes map to ECG-QA statement names; the free-text noise columns (``static_noise``,
``burst_noise``, ``baseline_drift``, ``electrodes_problems``) are parsed into leads (German
shorthand such as ``alles`` = all leads, ``I-AVF`` = a range in PTB-XL lead order, the keyboard
slip ``V!`` = V1, ``ALF`` = aVF; a bare digit is a chest lead); ``extra_beats`` gives the extra
systoles; ``infarction_stadium1/2`` the stages; the report the leads of 13 form statements
(``_report_leads``). Quirks of the official generation are kept on purpose so answers match:
"any kind of extra systoles" is yes only when ``extra_beats`` also names leads; superclasses count
only letter-only SCP codes (so NST_, ISC_, 1AVB, LAO/LAE, RAO/RAE never make a superclass); an
infarction stage comes from ``infarction_stadium2`` when set, else from ``infarction_stadium1``
except "Stadium III" there (a typo in the official code). The heart axis of ECG-QA was computed
from the signal (leads I and aVF), not taken from ``heart_axis``: the column is used here as the
closest label and disagrees with ECG-QA on some records.

Labels are ground truth for evaluation and training only: answers about an ECG a user brings come
from its signal, never from here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DatasetError, RecordNotFound
from ._attributes import EcgAttributes
from ._report_leads import statement_leads_from_report
from ._templates import LEADS

__all__ = [
    "SCP_CODE_NAMES",
    "attributes_from_ptbxl",
    "attributes_from_ptbxl_row",
    "parse_noise_leads",
    "parse_extra_beats",
    "load_ptbxl_metadata",
]

# PTB-XL SCP code -> ECG-QA statement name (codes ECG-QA does not ask about keep their own
# lower-cased description so nothing is lost, but no template answers with them).
SCP_CODE_NAMES: dict[str, str] = {
    "NDT": "non-diagnostic t abnormalities", "NST_": "non-specific st changes", "DIG": "digitalis effect",
    "LNGQT": "long qt-interval", "NORM": "normal ecg", "IMI": "myocardial infarction in inferior leads",
    "ASMI": "myocardial infarction in anteroseptal leads", "LVH": "left ventricular hypertrophy",
    "LAFB": "left anterior fascicular block", "ISC_": "non-specific ischemic",
    "IRBBB": "incomplete right bundle branch block", "1AVB": "first degree av block",
    "IVCD": "non-specific intraventricular conduction disturbance (block)",
    "ISCAL": "ischemic in anterolateral leads", "CRBBB": "complete right bundle branch block",
    "CLBBB": "complete left bundle branch block", "ILMI": "myocardial infarction in inferolateral leads",
    "LAO/LAE": "left atrial overload/enlargement", "AMI": "myocardial infarction in anterior leads",
    "ALMI": "myocardial infarction in anterolateral leads", "ISCIN": "ischemic in inferior leads",
    "INJAS": "subendocardial injury in anteroseptal leads", "LMI": "myocardial infarction in lateral leads",
    "ISCIL": "ischemic in inferolateral leads", "LPFB": "left posterior fascicular block",
    "ISCAS": "ischemic in anteroseptal leads", "INJAL": "subendocardial injury in anterolateral leads",
    "ISCLA": "ischemic in lateral leads", "RVH": "right ventricular hypertrophy",
    "ANEUR": "st-t changes compatible with ventricular aneurysm",
    "RAO/RAE": "right atrial overload/enlargement",
    "EL": "electrolytic disturbance or drug (former edis)", "WPW": "wolf-parkinson-white syndrome",
    "ILBBB": "incomplete left bundle branch block",
    "IPLMI": "myocardial infarction in inferoposterolateral leads", "ISCAN": "ischemic in anterior leads",
    "IPMI": "myocardial infarction in inferoposterior leads", "SEHYP": "septal hypertrophy",
    "INJIN": "subendocardial injury in inferior leads", "INJLA": "subendocardial injury in lateral leads",
    "PMI": "myocardial infarction in posterior leads", "3AVB": "third degree av block",
    "INJIL": "subendocardial injury in inferolateral leads", "2AVB": "second degree av block",
    "ABQRS": "abnormal qrs", "PVC": "ventricular premature complex", "STD_": "non-specific st depression",
    "VCLVH": "voltage criteria (qrs) for left ventricular hypertrophy", "QWAVE": "q waves present",
    "LOWT": "low amplitude t-wave", "NT_": "non-specific t-wave changes", "PAC": "atrial premature complex",
    "LPR": "prolonged pr interval", "INVT": "inverted t-waves",
    "LVOLT": "low qrs voltages in the frontal and horizontal leads", "HVOLT": "high qrs voltage",
    "TAB_": "t-wave abnormality", "STE_": "non-specific st elevation", "PRC(S)": "premature complex(es)",
    "SR": "sinus rhythm", "AFIB": "atrial fibrillation", "STACH": "sinus tachycardia",
    "SARRH": "sinus arrhythmia", "SBRAD": "sinus bradycardia", "PACE": "normal functioning artificial pacemaker",
    "SVARR": "supraventricular arrhythmia",
    "BIGU": "bigeminal pattern (unknown origin, supraventricular, or ventricular)",
    "AFLT": "atrial flutter", "SVTAC": "supraventricular tachycardia",
    "PSVT": "paroxysmal supraventricular tachycardia",
    "TRIGU": "trigeminal pattern (unknown origin, sv or ventricular)",
}

_LEAD_UPPER = [lead.upper() for lead in LEADS]
_NOISE_COLUMNS = {
    "static noise": "static_noise",
    "burst noise": "burst_noise",
    "baseline drift": "baseline_drift",
    "electrodes problems": "electrodes_problems",
}
_CODE_SUPERCLASS = {
    "CD": "LAFB IRBBB 1AVB IVCD CRBBB CLBBB LPFB WPW ILBBB 3AVB 2AVB",
    "HYP": "LVH LAO/LAE RVH RAO/RAE SEHYP",
    "MI": "IMI ASMI ILMI AMI ALMI INJAS LMI INJAL IPLMI IPMI INJIN INJLA PMI INJIL",
    "STTC": "NDT NST_ DIG LNGQT ISC_ ISCAL ISCIN ISCIL ISCAS ISCLA ANEUR EL ISCAN",
}
_SUPER_NAMES = {"CD": "conduction disturbance", "HYP": "hypertrophy", "MI": "myocardial infarction", "STTC": "st/t change"}
_SUPERCLASS_OF_CODE = {c: _SUPER_NAMES[k] for k, v in _CODE_SUPERCLASS.items() for c in v.split()}
_AXES = {
    "MID": "normal heart axis",
    "LAD": "left axis deviation",
    "ALAD": "left axis deviation",
    "RAD": "right axis deviation",
    "ARAD": "right axis deviation",
    "AXL": "left axis deviation",
    "AXR": "right axis deviation",
    "SAG": "extreme axis deviation",
}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip())


def _lead_token(token: str) -> str | None:
    t = token.strip().upper().replace(" ", "")
    if t == "ALF":  # typo for aVF in the PTB-XL annotations
        t = "AVF"
    if t in _LEAD_UPPER:
        return LEADS[_LEAD_UPPER.index(t)]
    m = re.fullmatch(r"V?([1-6])", t)
    return f"V{m.group(1)}" if m else None


def parse_noise_leads(text: Any) -> frozenset[str]:
    """Leads named by one PTB-XL noise cell (``' , I-AVR,  '``, ``'alles'``, ``'V1,V2'``...).

    Words without a lead (``leicht``, ``stark``, ``noisy recording``) name no lead.
    """
    if _is_missing(text):
        return frozenset()
    s = str(text).replace("!", "1").replace("?", " ")
    s = re.sub(r"\s*-+\s*", "-", s)
    s = re.sub(r"(?i)\bv\s+(\d)", r"V\1", s)
    found: list[str] = []
    for chunk in re.split(r"[,;.()]", s):
        for token in chunk.split():
            low = token.lower()
            if low.startswith("alle"):
                return frozenset(LEADS)
            if "-" in token:
                a, b = token.split("-", 1)
                la, lb = _lead_token(a), _lead_token(b)
                if la and lb:
                    if la.startswith("V") and not b.strip().upper().startswith("V") and b.strip().isdigit():
                        lb = f"V{b.strip()}"
                    i, j = LEADS.index(la), LEADS.index(lb)
                    found.extend(LEADS[i: j + 1])  # a reversed range names no lead, as in ECG-QA
                continue
            lead = _lead_token(token)
            if lead:
                found.append(lead)
    return frozenset(found)


_ES_KINDS = {"es": "extrasystoles", "ves": "ventricular extrasystoles", "sves": "supraventricular extrasystoles"}


def parse_extra_beats(text: Any) -> tuple[frozenset[str], frozenset[str]]:
    """(kinds, leads) of one PTB-XL ``extra_beats`` cell (``1ES``, ``VES2,alles``, ``2,V1``...).

    A leading count without a kind (``2,V1``) means plain extrasystoles; ``alles`` = all leads.
    """
    if _is_missing(text):
        return frozenset(), frozenset()
    s = str(text).strip().lower()
    if s[:1].isdigit() and not re.match(r"\d{1,2}s?v?es", s):
        s = "es" + s
    kinds: set[str] = set()
    for token in re.split(r"[,();]", s):
        token = token.strip()
        if "es" not in token or token == "alles":
            continue
        kind = re.sub(r"^\d+|\d+$", "", token)
        if kind in _ES_KINDS:
            kinds.add(_ES_KINDS[kind])
    return frozenset(kinds), parse_noise_leads(s)


def _letter_only_superclasses(codes: Mapping[str, float]) -> frozenset[str]:
    """Superclasses as ECG-QA computed them: only codes made of letters are looked up."""
    out = set()
    for code in codes:
        name = _SUPERCLASS_OF_CODE.get(code)
        if name is not None and code.isalpha():
            out.add(name)
    return frozenset(out)


def _stages(stadium1: Any, stadium2: Any) -> frozenset[str]:
    s1 = None if _is_missing(stadium1) else str(stadium1).strip()
    s2 = None if _is_missing(stadium2) else str(stadium2).strip()
    out: set[str] = set()
    if s1 == "unknown":
        out.add("unknown stage of myocardial infarction")
    if s2 is not None:
        source = s2
    elif s1 in ("Stadium I", "Stadium I-II", "Stadium II", "Stadium II-III"):
        source = s1  # "Stadium III" alone is not read (typo in the official generation)
    else:
        source = None
    if source in ("Stadium I", "Stadium I-II"):
        out.add("early stage of myocardial infarction")
    if source in ("Stadium II", "Stadium II-III"):
        out.add("middle stage of myocardial infarction")
    if source == "Stadium III":
        out.add("old stage of myocardial infarction")
    return frozenset(out)


def _parse_scp(value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items()}
    if _is_missing(value):
        return {}
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError) as exc:
        raise DatasetError(f"malformed scp_codes {value!r}; expected a dict like {{'NORM': 100.0}}") from exc
    if not isinstance(parsed, dict):
        raise DatasetError(f"malformed scp_codes {value!r}; expected a dict")
    return {str(k): float(v) for k, v in parsed.items()}


def attributes_from_ptbxl_row(row: Mapping[str, Any], ecg_id: int | None = None) -> EcgAttributes:
    """ECG-QA attributes from one ``ptbxl_database.csv`` row (a mapping of column -> value).

    Numeric features are not in the labels: they stay empty (measure them on the signal).
    """
    statements: dict[str, float] = {}
    for code, likelihood in _parse_scp(row.get("scp_codes")).items():  # noqa: B007
        name = SCP_CODE_NAMES.get(code, code.lower())
        statements[name] = max(likelihood, statements.get(name, 0.0))
    codes = _parse_scp(row.get("scp_codes"))
    noise = {}
    for kind, column in _NOISE_COLUMNS.items():
        leads = parse_noise_leads(row.get(column))
        if leads:
            noise[kind] = leads
    kinds, es_leads = parse_extra_beats(row.get("extra_beats"))
    axis_code = row.get("heart_axis")
    axis = None if _is_missing(axis_code) else _AXES.get(str(axis_code).strip())
    report = row.get("report")
    lead_codes = statement_leads_from_report("" if _is_missing(report) else str(report), frozenset(codes))
    return EcgAttributes(
        statements=statements,
        lead_statements={SCP_CODE_NAMES[c]: frozenset(leads) for c, leads in lead_codes.items()},
        noise=noise,
        extra_systoles=kinds,
        infarction_stages=_stages(row.get("infarction_stadium1"), row.get("infarction_stadium2")),
        heart_axis=axis,
        ecg_id=ecg_id,
        superclass_set=_letter_only_superclasses(codes),
        any_extra_systole=bool(kinds) and bool(es_leads),
    )


def load_ptbxl_metadata(root: str | Path):  # -> pandas.DataFrame
    """``ptbxl_database.csv`` of a PTB-XL folder, indexed by ``ecg_id`` (parsed by ``records.PtbXl``)."""
    from ..records import PtbXl

    return PtbXl(root).metadata


def attributes_from_ptbxl(source: Any, ecg_id: int | None = None) -> EcgAttributes | dict[int, EcgAttributes]:
    """ECG-QA attributes of PTB-XL records from labels alone.

    ``source`` is a PTB-XL folder, a ``PtbXl`` object (``.metadata``), a metadata DataFrame indexed
    by ``ecg_id``, or one row (mapping). With ``ecg_id`` returns that record's attributes
    (RecordNotFound when the id is not listed); without, a dict ``ecg_id -> EcgAttributes`` for all.
    """
    if isinstance(source, Mapping) and "scp_codes" in source:
        return attributes_from_ptbxl_row(source, ecg_id)
    frame = _metadata_frame(source)
    if ecg_id is not None:
        if int(ecg_id) not in frame.index:
            raise RecordNotFound(f"PTB-XL ecg_id {ecg_id} is not listed in ptbxl_database.csv (1..{frame.index.max()})")
        return attributes_from_ptbxl_row(frame.loc[int(ecg_id)].to_dict(), int(ecg_id))
    records = frame.to_dict("index")
    return {int(i): attributes_from_ptbxl_row(r, int(i)) for i, r in records.items()}


def _metadata_frame(source: Any):
    metadata = getattr(source, "metadata", None)
    if metadata is not None:
        return metadata
    if isinstance(source, (str, Path)):
        return load_ptbxl_metadata(source)
    if hasattr(source, "loc") and hasattr(source, "index"):
        return source
    raise DatasetError(
        f"cannot read PTB-XL labels from {type(source).__name__}; pass a PTB-XL folder, PtbXl, DataFrame or row"
    )
