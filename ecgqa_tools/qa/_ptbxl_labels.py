"""ECG-QA attributes of PTB-XL records derived from ``ptbxl_database.csv`` labels alone.

The rules were reverse-engineered from the official ECG-QA v1.0.2 samples (see docs/qa.md):
SCP codes map to ECG-QA statement names; the free-text noise columns (``static_noise``,
``burst_noise``, ``baseline_drift``, ``electrodes_problems``) are parsed into leads (German
shorthand such as ``alles`` = all leads, ``I-AVF`` = a range in PTB-XL lead order, keyboard slips
``V!`` = V1 and ``V&`` = V6 on a German layout, ``ALF`` = aVF); ``extra_beats`` gives the extra
systoles; ``infarction_stadium1/2`` the stages; ``heart_axis`` the axis.

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
_STAGES = {
    "stadium i": ("early stage of myocardial infarction",),
    "stadium ii": ("middle stage of myocardial infarction",),
    "stadium iii": ("old stage of myocardial infarction",),
    "stadium i-ii": ("early stage of myocardial infarction", "middle stage of myocardial infarction"),
    "stadium ii-iii": ("middle stage of myocardial infarction", "old stage of myocardial infarction"),
    "unknown": ("unknown stage of myocardial infarction",),
}
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
    s = str(text).replace("!", "1").replace("&", "6").replace("?", "")
    s = re.sub(r"\s*-+\s*", "-", s)
    s = re.sub(r"(?i)\bv\s+(\d)", r"V\1", s)
    found: list[str] = []
    for chunk in re.split(r"[,;.]", s):
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
                    found.extend(LEADS[min(i, j): max(i, j) + 1])
                continue
            lead = _lead_token(token)
            if lead:
                found.append(lead)
    return frozenset(found)


def parse_extra_beats(text: Any) -> frozenset[str]:
    """Extra-systole kinds in one PTB-XL ``extra_beats`` cell (``1ES``, ``VES``, ``SVES``, ``VES,SVES``...)."""
    if _is_missing(text):
        return frozenset()
    s = str(text).upper()
    kinds: set[str] = set()
    if "SVES" in s:
        kinds.add("supraventricular extrasystoles")
    if re.search(r"(?<!S)VES", s):
        kinds.add("ventricular extrasystoles")
    if re.search(r"(?<![SV])ES", s):
        kinds.add("extrasystoles")
    return frozenset(kinds)


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
    for code, likelihood in _parse_scp(row.get("scp_codes")).items():
        name = SCP_CODE_NAMES.get(code, code.lower())
        statements[name] = max(likelihood, statements.get(name, 0.0))
    noise = {}
    for kind, column in _NOISE_COLUMNS.items():
        leads = parse_noise_leads(row.get(column))
        if leads:
            noise[kind] = leads
    stages: set[str] = set()
    for column in ("infarction_stadium1", "infarction_stadium2"):
        value = row.get(column)
        if not _is_missing(value):
            stages.update(_STAGES.get(str(value).strip().lower(), ()))
    axis_code = row.get("heart_axis")
    axis = None if _is_missing(axis_code) else _AXES.get(str(axis_code).strip())
    return EcgAttributes(
        statements=statements,
        noise=noise,
        extra_systoles=parse_extra_beats(row.get("extra_beats")),
        infarction_stages=frozenset(stages),
        heart_axis=axis,
        ecg_id=ecg_id,
    )


def load_ptbxl_metadata(root: str | Path):  # -> pandas.DataFrame
    """``ptbxl_database.csv`` of a PTB-XL folder as a DataFrame indexed by ``ecg_id``."""
    import pandas as pd

    path = Path(root) / "ptbxl_database.csv"
    if not path.is_file():
        raise DatasetError(f"PTB-XL metadata not found: {path}; pass the PTB-XL folder (holding ptbxl_database.csv)")
    try:
        frame = pd.read_csv(path, index_col="ecg_id")
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"malformed {path}: {exc}") from exc
    if "scp_codes" not in frame.columns:
        raise DatasetError(f"{path} has no scp_codes column; is it PTB-XL's ptbxl_database.csv?")
    return frame


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
