"""Choose the attribute model's threshold rule on ECG-QA valid by cross-fitting, and optionally
write it into the shipped card (docs/encoders.md "Attribute thresholds (session 5)").

    python scripts/tune_attribute_thresholds.py --data-dir ../shared/data            # scores only
    python scripts/tune_attribute_thresholds.py --data-dir ../shared/data --write     # + card

Reads only the card's selection ECGs (ECG-QA valid with signals here): the same ECGs that chose the
checkpoint and the F1-tuned thresholds. Test ECGs are never read here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RULES = (["tuned"] + [f"floor-{f}" for f in (0.05, 0.1, 0.2, 0.3, 0.5)] + [f"minpos-{k}" for k in (3, 5, 10, 20)]
         + [f"shrink-{m}" for m in (5, 10, 20)] + [f"minpos-{k}+floor-{f}" for k in (5, 10) for f in (0.1, 0.2)]
         + ["fixed-0.5"])
"""The candidates written down before the first measurement (docs/encoders.md)."""


def selection_arrays(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ecg_ids, probabilities, targets) of the attribute model's selection ECGs."""
    from ecgqa_tools.encoders import load_attribute_model, preprocess_ecg
    from ecgqa_tools.encoders._jobs import attribute_targets
    from ecgqa_tools.records import PtbXl, PtbXlFiltered

    ptbxl = PtbXl(data_dir / "ptb-xl")
    filtered = data_dir / "ptb-xl-filtered-subset"
    subset = PtbXlFiltered(filtered) if filtered.is_dir() else None
    raw = set(ptbxl.present_ids(100))
    model = load_attribute_model()
    ids = np.array(sorted(model.card.selection_ids), dtype=np.int64)
    x = [preprocess_ecg(ptbxl.read(int(i), 100) if int(i) in raw else subset.read(int(i))) for i in ids]  # type: ignore[union-attr]
    probs = 1 / (1 + np.exp(-model.predict_logits(np.stack(x)).astype(np.float64)))
    return ids, probs, attribute_targets(data_dir, ids)


def main() -> int:
    from ecgqa_tools.encoders import load_attribute_model
    from ecgqa_tools.encoders._jobs import best_f1_thresholds
    from ecgqa_tools.encoders._thresholds import crossfit_rule_scores, select_rule

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--write", action="store_true", help="write the chosen rule into weights/attributes.json/.md")
    ap.add_argument("--version", default="2.1", help="card version to write (weights unchanged)")
    args = ap.parse_args()

    ids, probs, labels = selection_arrays(args.data_dir)
    model = load_attribute_model()
    tuned = np.asarray(model.card.metrics["thresholds"])
    drift = float(np.abs(np.asarray(best_f1_thresholds(labels, probs)) - tuned).max())
    print(f"{len(ids)} selection ECGs; recomputed F1 thresholds differ from the card's by at most {drift:.5f}")
    scores = crossfit_rule_scores(labels, probs, RULES)
    for s in sorted(scores, key=lambda s: -s.example_f1):
        print(f"{s.rule:<20} example-F1 {s.example_f1:.4f}  macro-F1 {s.macro_f1:.4f}  changed {s.n_changed}")
    chosen = select_rule(scores)
    print(f"chosen: {chosen.rule}")
    if args.write:
        positives = {c: int(n) for c, n in zip(model.classes, (labels > 0.5).sum(axis=0))}
        card = model.card.with_metrics(threshold_rule={
            "rule": chosen.rule, "selection_positives": positives,
            "note": f"chosen on ECG-QA valid by cross-fitted example-F1 (session 5); weights unchanged from v2, "
                    f"card version {args.version} marks the new thresholds",
            "crossfit": {s.rule: {"example_f1": s.example_f1, "macro_f1": s.macro_f1} for s in scores},
        })
        from dataclasses import replace

        card = replace(card, version=args.version)
        out = model.directory
        card.save(out / "attributes.json")
        from ecgqa_tools._io import write_text_atomic

        write_text_atomic(out / "attributes.md", card.to_markdown())
        print(json.dumps({"written": str(out / "attributes.json"), "version": card.version, "rule": chosen.rule}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
