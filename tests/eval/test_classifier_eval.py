"""``ecgqa eval classifiers``: zero-shot on synthetic CinC files, PTB-XL folds with the leakage guard."""

from __future__ import annotations

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import DISEASES
from ecgqa_tools.eval._classifiers import CINC_SNOMED_TO_DISEASE, cinc_labels, evaluate_cinc, evaluate_ptbxl
from ecgqa_tools.records import STANDARD_LEADS, load_example


def _write_cinc(folder, name, signal_mv, dx, fs=500):
    """A CinC 2020-style record: MAT v4 'val' int16 (leads, samples) at 1000 adu/mV + header."""
    import scipy.io

    val = np.round(np.asarray(signal_mv) * 1000).astype(np.int16)
    scipy.io.savemat(str(folder / f"{name}.mat"), {"val": val}, format="4")
    lines = [f"{name} 12 {fs} {val.shape[1]} 05-Feb-2020 11:39:16"]
    lines += [f"{name}.mat 16+24 1000/mV 16 0 {val[i, 0]} 0 0 {lead}" for i, lead in enumerate(STANDARD_LEADS)]
    lines += ["#Age: 60", "#Sex: Female", f"#Dx: {dx}", "#Rx: Unknown", "#Hx: Unknown", "#Sx: Unknown"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")


def test_snomed_mapping_is_a_priori_and_covers_every_disease():
    assert {d for d, _ in CINC_SNOMED_TO_DISEASE.values()} == set(DISEASES)
    assert cinc_labels((59118001, 426783006)) == {"MI": 0.0, "STTC": 0.0, "CD": 1.0, "HYP": 0.0}
    assert cinc_labels((164865005, 164873001)) == {"MI": 1.0, "STTC": 0.0, "CD": 0.0, "HYP": 1.0}


def test_zero_shot_on_a_synthetic_cinc_directory(tmp_path, capsys):
    # real PTB-XL signals (bundled examples, unseen by the models) written as CinC files with #Dx codes
    examples = {"ptbxl-00473": "426783006", "ptbxl-00210": "164865005,426783006", "ptbxl-00400": "164934002",
                "ptbxl-00377": "445211001", "ptbxl-00478": "713426002,426783006"}
    for n, (name, dx) in enumerate(examples.items()):
        _write_cinc(tmp_path, f"A{n:04d}", load_example(name).signal_mv, dx)
    (tmp_path / "broken.hea").write_text("not a header\n")
    report = evaluate_cinc(tmp_path, n_boot=50, progress=False)
    assert report.n_records == 5 and any("1 skipped" in note for note in report.notes)
    rows = {r.disease: r for r in report.rows}
    assert (rows["MI"].n_pos, rows["MI"].n_neg) == (1, 4)
    assert (rows["CD"].n_pos, rows["CD"].n_neg) == (2, 3)
    assert np.isnan(rows["HYP"].auc) and rows["HYP"].n_pos == 0  # no positive: AUC undefined, said so
    assert all(r.n_seen_dropped == 0 for r in report.rows)
    assert main(["eval", "classifiers", "--cinc", str(tmp_path), "--n-boot", "20"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines[-4:]] == list(DISEASES)
    float(lines[-4].split("\t")[1])  # the AUC follows the disease code


def test_cinc_directory_without_records_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", "classifiers", "--cinc", str(tmp_path)]) == 1
    assert "no CinC records" in capsys.readouterr().err


@pytest.mark.data
def test_validation_fold_is_refused_by_the_leakage_guard(ptbxl_dir):
    """Every fold-9 record here was used to select the checkpoints: nothing is rescored."""
    report = evaluate_ptbxl(ptbxl_dir, "val", None, n_boot=10, progress=False)
    for row in report.rows:
        assert row.n_pos + row.n_neg == 0 and row.n_seen_dropped > 0 and np.isnan(row.auc)
    assert any("leakage guard dropped" in n for n in report.notes)
    assert any("recorded at selection time" in n for n in report.notes)
