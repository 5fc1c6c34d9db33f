"""PTB-XL+ fiducial points (ECGdeli) as a ``Delineation``, for clinical masks on PTB-XL.

PTB-XL+ (Strodthoff et al., Sci Data 2023; PhysioNet ``ptb-xl-plus``) ships the ECGdeli
delineation of every PTB-XL record as WFDB annotation files, one per lead, at 500 Hz::

    fiducial_points/ecgdeli/<bucket>/<ecg_id>_points_lead_<lead>.atr
    e.g. fiducial_points/ecgdeli/02000/02001_points_lead_V1.atr   (bucket = ecg_id // 1000 * 1000)

(plus ``<ecg_id>_points_global.atr``, not used here). Each annotation names its fiducial in the
auxiliary note (``p-wave onset``, ``p-wave peak``, ``p-wave offset``, ``QRS onset``, ``R peak``,
``QRS offset``, ``t-wave onset``, ``t-wave peak``, ``t-wave offset``). The reader accepts those
notes in any spelling (case, spaces, hyphens, short forms such as ``Pon``/``QRSoff``) and also the
WFDB ``(`` peak ``)`` convention (symbols ``p``, ``N``, ``t`` between ``(`` and ``)``), and pairs
onsets, peaks and offsets into waves. The data is not on the development machine: this reader is
tested on small synthetic files written in that layout.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DatasetError, RecordNotFound
from ..records import STANDARD_LEADS, Delineation, Wave

FIDUCIAL_FS_HZ = 500.0
FIDUCIAL_SAMPLES = 5000

_NOTE_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # (regex on the normalised note, wave kind, role)
    (r"^(pwave|p)(onset|on|start)$", "P", "onset"),
    (r"^(pwave|p)(peak|pk)?$", "P", "peak"),
    (r"^(pwave|p)(offset|off|end)$", "P", "offset"),
    (r"^(qrs|qrscomplex)(onset|on|start)$", "QRS", "onset"),
    (r"^(rpeak|r|qrspeak|qrs)$", "QRS", "peak"),
    (r"^(qrs|qrscomplex)(offset|off|end)$", "QRS", "offset"),
    (r"^(twave|t)(onset|on|start)$", "T", "onset"),
    (r"^(twave|t)(peak|pk)?$", "T", "peak"),
    (r"^(twave|t)(offset|off|end)$", "T", "offset"),
)
_SYMBOL_KIND = {"p": "P", "N": "QRS", "t": "T"}


def fiducial_path(root: str | Path, ecg_id: int, lead: str) -> Path:
    """Path of one lead's ECGdeli annotation file under a PTB-XL+ root (without ``.atr``)."""
    root = Path(root)
    base = root if root.name == "ecgdeli" else root / "fiducial_points" / "ecgdeli"
    bucket = (int(ecg_id) // 1000) * 1000
    return base / f"{bucket:05d}" / f"{int(ecg_id):05d}_points_lead_{lead}"


def classify_note(note: str) -> tuple[str, str] | None:
    """(wave kind, role) of an auxiliary note such as ``QRS onset``; ``None`` when not a fiducial."""
    key = re.sub(r"[^a-z]", "", note.lower())
    for pattern, kind, role in _NOTE_PATTERNS:
        if re.match(pattern, key):
            return kind, role
    return None


def _pair(events: list[tuple[int, str, str]]) -> list[Wave]:
    """Waves from sorted (sample, kind, role) events: each onset is closed by its kind's offset."""
    waves: list[Wave] = []
    open_onset: dict[str, int] = {}
    open_peak: dict[str, int] = {}
    for sample, kind, role in sorted(events):
        if role == "onset":
            open_onset[kind] = sample
            open_peak.pop(kind, None)
        elif role == "peak":
            if kind in open_onset:
                open_peak[kind] = sample
        elif role == "offset" and kind in open_onset:
            onset = open_onset.pop(kind)
            if sample >= onset:
                waves.append(Wave(kind, onset, sample, open_peak.pop(kind, None)))  # type: ignore[arg-type]
    return sorted(waves, key=lambda w: w.onset)


def _events(samples, symbols, notes) -> list[tuple[int, str, str]]:
    events: list[tuple[int, str, str]] = []
    pending_onset: int | None = None
    pending_kind: str | None = None
    for sample, symbol, note in zip(samples, symbols, notes):
        classified = classify_note(note or "")
        if classified is not None:
            events.append((int(sample), classified[0], classified[1]))
            continue
        if symbol == "(":
            pending_onset, pending_kind = int(sample), None
        elif symbol in _SYMBOL_KIND:
            pending_kind = _SYMBOL_KIND[symbol]
            if pending_onset is not None:
                events.append((pending_onset, pending_kind, "onset"))
                pending_onset = None
            events.append((int(sample), pending_kind, "peak"))
        elif symbol == ")" and pending_kind is not None:
            events.append((int(sample), pending_kind, "offset"))
            pending_kind = None
    return events


def read_ptbxl_plus_fiducials(root: str | Path, ecg_id: int,
                              n_samples: int = FIDUCIAL_SAMPLES) -> Delineation:
    """The ECGdeli delineation of one PTB-XL record from a PTB-XL+ folder (source ``ptbxl-plus``).

    ``root`` is the PTB-XL+ folder (or its ``fiducial_points/ecgdeli``); boundaries are at the
    annotation's rate (500 Hz in PTB-XL+; use ``.rescaled`` for 100 Hz). Leads without a file get
    no waves; a record with no file at all raises ``RecordNotFound``.
    """
    import wfdb

    waves: dict[str, tuple[Wave, ...]] = {}
    fs = FIDUCIAL_FS_HZ
    found = 0
    for lead in STANDARD_LEADS:
        path = fiducial_path(root, ecg_id, lead)
        if not path.with_suffix(".atr").is_file():
            continue
        try:
            ann = wfdb.rdann(str(path), "atr")
        except Exception as exc:  # wfdb raises bare ValueErrors on corrupt files
            raise DatasetError(f"{path}.atr: unreadable WFDB annotation file ({exc})") from exc
        found += 1
        if ann.fs:
            fs = float(ann.fs)
        notes = ann.aux_note if ann.aux_note is not None else [""] * len(ann.sample)
        waves[lead] = tuple(_pair(_events(ann.sample, ann.symbol, notes)))
    if not found:
        raise RecordNotFound(
            f"no PTB-XL+ fiducial files for ecg_id {ecg_id} under {root} "
            f"(looked for {fiducial_path(root, ecg_id, 'II')}.atr and the other leads)"
        )
    return Delineation(fs, int(n_samples), waves, "ptbxl-plus")
