"""Records: reading ECGs from any source into one validated ``ECG`` type."""

from ._ecg import MIN_DURATION_S, ECG, ECGMetadata, ReadNote, SignalQuality, read_note_kind, require_ecg
from ._examples import ExampleRecord, example_info, example_path, list_examples, load_example, read_record_or_example
from ._formats import read_cinc, read_csv, read_numpy, read_record
from ._inventory import DatasetInventory, SplitCount
from ._leads import STANDARD_LEADS, normalize_lead_name, standard_index
from ._ludb import UNIFORM_GAIN_ADU_PER_MV, Ludb, LudbDiagnoses
from ._mimic import MimicIvEcg
from ._names import RecordName, parse_record_name, read_named_record, record_display_name
from ._ptbxl import PtbXl, PtbXlFiltered, split_of_fold
from ._transform import missing_standard_leads, resample, resampled_length, to_standard_leads
from ._waves import WAVE_KINDS, Delineation, Wave, WaveKind
from ._wfdb import companion_file, read_wfdb, read_wfdb_header, record_base, wfdb_signal_files

__all__ = [
    "ECG",
    "ECGMetadata",
    "DatasetInventory",
    "Delineation",
    "ExampleRecord",
    "MIN_DURATION_S",
    "Ludb",
    "LudbDiagnoses",
    "MimicIvEcg",
    "PtbXl",
    "PtbXlFiltered",
    "ReadNote",
    "RecordName",
    "SignalQuality",
    "SplitCount",
    "STANDARD_LEADS",
    "UNIFORM_GAIN_ADU_PER_MV",
    "WAVE_KINDS",
    "Wave",
    "WaveKind",
    "companion_file",
    "example_info",
    "example_path",
    "list_examples",
    "load_example",
    "missing_standard_leads",
    "normalize_lead_name",
    "parse_record_name",
    "read_cinc",
    "read_csv",
    "read_named_record",
    "read_note_kind",
    "read_numpy",
    "read_record",
    "read_record_or_example",
    "read_wfdb",
    "read_wfdb_header",
    "record_base",
    "record_display_name",
    "require_ecg",
    "resample",
    "resampled_length",
    "split_of_fold",
    "standard_index",
    "to_standard_leads",
    "wfdb_signal_files",
]
