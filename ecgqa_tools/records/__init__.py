"""Records: reading ECGs from any source into one validated ``ECG`` type."""

from ._ecg import ECG, ECGMetadata
from ._leads import STANDARD_LEADS, normalize_lead_name, standard_index
from ._transform import missing_standard_leads, resample, to_standard_leads
from ._waves import WAVE_KINDS, Delineation, Wave, WaveKind
from ._wfdb import read_wfdb

__all__ = [
    "ECG",
    "ECGMetadata",
    "Delineation",
    "WAVE_KINDS",
    "Wave",
    "WaveKind",
    "STANDARD_LEADS",
    "missing_standard_leads",
    "normalize_lead_name",
    "read_wfdb",
    "resample",
    "standard_index",
    "to_standard_leads",
]
