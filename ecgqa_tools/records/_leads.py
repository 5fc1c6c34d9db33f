"""Lead names: the standard 12-lead order and normalisation of the names sources use."""

from __future__ import annotations

from ..errors import RecordError

STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)

_ALIASES: dict[str, str] = {
    # limb leads as written by MIT-BIH, CinC and others
    "MLI": "I",
    "MLII": "II",
    "MLIII": "III",
    "D1": "I",
    "D2": "II",
    "D3": "III",
    "DI": "I",
    "DII": "II",
    "DIII": "III",
    "LEAD I": "I",
    "LEADI": "I",
    "LEADII": "II",
    "LEADIII": "III",
    "LEAD II": "II",
    "LEAD III": "III",
}

_CANONICAL_BY_UPPER: dict[str, str] = {name.upper(): name for name in STANDARD_LEADS}


def normalize_lead_name(name: str) -> str:
    """Return the canonical spelling of a lead name (``AVR``/``avr`` -> ``aVR``, ``MLII`` -> ``II``).

    Names that are not one of the 12 standard leads (``V7``, ``vx``, ``MLV5`` ...) come back
    stripped but otherwise unchanged, so that callers can report them.
    """
    stripped = name.strip()
    key = stripped.upper().replace("_", " ").replace("-", " ")
    key = " ".join(key.split())
    if key in _ALIASES:
        return _ALIASES[key]
    compact = key.replace(" ", "")
    if compact in _ALIASES:
        return _ALIASES[compact]
    return _CANONICAL_BY_UPPER.get(compact, stripped)


def standard_index(name: str) -> int:
    """Position of a lead in the standard order; ``RecordError`` for an unknown lead."""
    canonical = normalize_lead_name(name)
    try:
        return STANDARD_LEADS.index(canonical)
    except ValueError:
        raise RecordError(
            f"unknown lead {name!r}; expected one of {', '.join(STANDARD_LEADS)}"
        ) from None
