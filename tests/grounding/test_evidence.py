"""Evidence on known inputs: a map concentrated in one lead's QRS is reported as exactly that."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgqa_tools import DISCLAIMER
from ecgqa_tools.grounding._attribution import Attribution, explain
from ecgqa_tools.grounding._evidence import build_evidence
from ecgqa_tools.grounding._segments import SEGMENTS, clinical_mask, scored_mask, segment_labels
from ecgqa_tools.grounding._validation import cas, mask_coverage, pointing_game
from ecgqa_tools.records import ECG, STANDARD_LEADS, Delineation, Wave

FS = 500.0
N = 2500  # 5 s
R_PEAKS = [250, 750, 1250, 1750, 2250]


def _delineation(with_t: bool = True) -> Delineation:
    waves = []
    for r in R_PEAKS:
        waves.append(Wave("P", r - 100, r - 60, r - 80))
        waves.append(Wave("QRS", r - 25, r + 25, r))
        if with_t:
            waves.append(Wave("T", r + 100, r + 175, r + 140))
    return Delineation(FS, N, {lead: tuple(waves) for lead in STANDARD_LEADS}, "synthetic")


def _ecg() -> ECG:
    rng = np.random.default_rng(0)
    return ECG.from_array(0.05 * rng.standard_normal((12, N)).astype(np.float32), FS)


class LinearModel:
    """logit = sum(W * x) at 100 Hz: IG from zero gives exactly W * x."""

    fs_hz = 100.0

    def __init__(self, weights) -> None:
        import torch

        self.w = torch.tensor(weights, dtype=torch.float32)
        w = self.w

        class M(torch.nn.Module):
            def forward(self, x):
                return (x * w).sum(dim=(1, 2))

        self.module = M()

    def preprocess(self, ecg: ECG) -> np.ndarray:
        return np.ascontiguousarray(ecg.signal_mv[:, ::5]) * 20.0


def _attribution(values: np.ndarray, disease: str = "MI") -> Attribution:
    ecg = _ecg()
    return Attribution(values=values.astype(np.float32), lead_names=STANDARD_LEADS, fs_hz=FS,
                       disease=disease, method="ig", probability=0.9, logit=2.2, baseline_logit=0.0,
                       convergence_delta=0.0, model_values=values[:, ::5], model_fs_hz=100.0,
                       model_offset=0, baseline="flat line", ecg=ecg)


def _qrs_in_v3_map() -> np.ndarray:
    values = np.full((12, N), 1e-4)
    v3 = STANDARD_LEADS.index("V3")
    values[v3, 1250 - 25:1250 + 26] = 1.0  # the QRS of the third beat in V3
    values[0, 100:110] = -0.5  # some negative evidence elsewhere
    return values


def test_segments_are_in_physiological_order():
    labels = segment_labels(_delineation(), "II")
    r = R_PEAKS[2]
    order = [SEGMENTS[labels[i]] for i in (r - 80, r - 40, r, r + 60, r + 140, r + 250)]
    assert order == ["P", "PR", "QRS", "ST", "T", "other"]
    no_t = segment_labels(_delineation(with_t=False), "II")
    st = np.flatnonzero(no_t == SEGMENTS.index("ST"))
    assert st.min() == R_PEAKS[0] + 26 and len(st) == 5 * 40  # J point + 80 ms per beat


def test_clinical_masks_per_disease():
    d = _delineation()
    r = R_PEAKS[1]
    mi, sttc, cd, cd_av = (clinical_mask(d, "MI"), clinical_mask(d, "STTC"), clinical_mask(d, "CD"),
                           clinical_mask(d, "CD", av_block=True))
    assert mi[0, r] and mi[0, r + 60] and not mi[0, r + 140]
    assert sttc[0, r + 60] and sttc[0, r + 140] and not sttc[0, r]
    assert cd[0, r] and not cd[0, r - 40] and cd_av[0, r - 40] and cd_av[0, r - 80]
    assert clinical_mask(d, "HYP", fs_hz=100.0).shape == (12, 500)


def test_qrs_of_one_lead_is_the_top_evidence():
    evidence = build_evidence(_attribution(_qrs_in_v3_map()), _delineation(), faithfulness=False)
    top = evidence.top_regions[0]
    assert (top.lead, top.segment) == ("V3", "QRS")
    assert top.start_ms == pytest.approx(1225 * 2) and top.end_ms == pytest.approx(1276 * 2)
    assert max(evidence.lead_share, key=evidence.lead_share.get) == "V3"
    assert max(evidence.segment_share, key=evidence.segment_share.get) == "QRS"
    assert sum(evidence.lead_share.values()) == pytest.approx(1.0)
    assert sum(evidence.segment_share.values()) == pytest.approx(1.0)
    assert max(evidence.beats, key=lambda b: b.share).index == 2
    assert evidence.peak is not None and evidence.peak.lead == "V3" and evidence.peak.segment == "QRS"
    assert evidence.peak_in_clinical_region  # MI expects QRS/ST
    assert "V3" in evidence.text and "QRS" in evidence.text and evidence.text.endswith(DISCLAIMER)
    json.dumps(evidence.to_dict())


def test_peak_outside_expected_region_is_reported():
    evidence = build_evidence(_attribution(_qrs_in_v3_map(), "STTC"), _delineation(), faithfulness=False)
    assert not evidence.peak_in_clinical_region
    assert evidence.clinical_share < 0.05
    assert "outside the expected region" in evidence.text


def test_faithfulness_top_regions_matter_more_than_random():
    ecg = _ecg()
    weights = np.zeros((12, 500), dtype=np.float32)
    v3 = STANDARD_LEADS.index("V3")
    weights[v3, 245:256] = 3.0  # the model only looks at V3's QRS at 2.5 s
    model = LinearModel(weights)
    attr = explain(ecg.with_signal(ecg.signal_mv + (np.arange(12)[:, None] == v3) * 0.2), "MI",
                   model=model)
    evidence = build_evidence(attr, _delineation(), model=model)
    f = evidence.faithfulness
    assert f is not None and f.faithful
    assert f.drop_top > 0.2 and abs(f.drop_random) < f.drop_top
    assert evidence.top_regions[0].lead == "V3"
    assert "to a flat line lowers the probability by" in evidence.text and "a larger drop than" in evidence.text
    # a removal that raises the probability is worded as such (seen with STTC: a flat ST-T is abnormal)
    from dataclasses import replace

    from ecgqa_tools.grounding._evidence import render_text

    raised = replace(f, probability_top_removed=f.probability + 0.08, probability_random_removed=f.probability + 0.02)
    text = render_text(replace(evidence, faithfulness=raised))
    assert "raises the probability by 0.08" in text and "no larger drop than" in text and "raises it by 0.02" in text


def test_pointing_game_and_cas_on_known_maps():
    mask = np.zeros((2, 10), dtype=bool)
    mask[0, 2:4] = True
    values = np.zeros((2, 10))
    values[0, 3] = 2.0
    values[1, 5] = 1.0
    values[1, 6] = -5.0
    assert pointing_game(values, mask)
    assert cas(values, mask) == pytest.approx(2 / 3)
    valid = np.ones_like(mask)
    valid[0] = False
    assert not pointing_game(values, mask, valid) and cas(values, mask, valid) == 0.0
    assert np.isnan(cas(-values * 0, mask))
    assert mask_coverage(mask) == pytest.approx(0.1)


def test_scored_mask_uses_spans_and_skips_undelineated_leads():
    d = _delineation()
    waves = dict(d.waves)
    waves["V6"] = ()
    spanned = Delineation(FS, N, waves, "x", {"I": (200, 2000)})
    valid = scored_mask(spanned)
    assert not valid[STANDARD_LEADS.index("V6")].any()
    assert valid[0, 200] and valid[0, 2000] and not valid[0, 199] and not valid[0, 2001]
    assert valid[1].all()


def test_faithfulness_fill_must_be_known():
    from ecgqa_tools.errors import UsageError
    from ecgqa_tools.grounding._evidence import faithfulness_check

    with pytest.raises(UsageError, match="fill"):
        faithfulness_check(None, [], None, fill="noise")  # type: ignore[arg-type]


def test_maps_from_a_normal_reference_also_get_the_normal_fill_check():
    ecg = _ecg()
    weights = np.zeros((12, 500), dtype=np.float32)
    v3 = STANDARD_LEADS.index("V3")
    weights[v3, 245:256] = 3.0
    model = LinearModel(weights)
    bumped = ecg.with_signal(ecg.signal_mv + (np.arange(12)[:, None] == v3) * 0.2)
    for kind in ("normal", "expected"):
        attr = explain(bumped, "STTC", model=model, baseline=kind)
        evidence = build_evidence(attr, _delineation(), model=model)
        g, f = evidence.faithfulness_normal, evidence.faithfulness
        assert g is not None and f is not None
        assert g.n_regions == f.n_regions and g.removed_fraction == f.removed_fraction  # same regions
        assert g.probability_top_removed != f.probability_top_removed  # filled differently
        assert "Making the same regions normal" in evidence.text
        data = json.loads(json.dumps(evidence.to_dict()))
        assert data["faithfulness_normal"]["drop_top"] == pytest.approx(g.drop_top, abs=1e-5)
    flat = build_evidence(explain(bumped, "STTC", model=model, baseline="lowpass"), _delineation(), model=model)
    assert flat.faithfulness_normal is None and "Making the same regions normal" not in flat.text
    assert flat.to_dict()["faithfulness_normal"] is None
