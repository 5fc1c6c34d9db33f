"""Write the flat-head constant (``ModelCard.head_constant``) into the cards of disease models saved
before session 10, computed from their ``.pt`` parameters (``DiseaseModel.parameter_head_constant``:
mean of the ensemble members' final-layer biases and its tolerance; docs/encoders.md "Flat heads").

``save_model`` writes the field for every model saved since; this is how the 8 shipped disease cards
(``disease_{MI,STTC,CD,HYP}`` and ``disease_*_ecgqa``) got it. Only the ``.json`` cards are rewritten
(atomically); the ``.pt``/``.onnx`` weights are read, never written. A card that already has the field
is checked: it must equal the value from the parameters. Every card is checked before any is written:
when one differs, the script exits 1 and writes nothing.

    python scripts/add_head_constants.py            # the folder models load from (ECGQA_WEIGHTS_DIR or the package's)
    python scripts/add_head_constants.py --check    # only compare, write nothing (exit 1 on a missing or different card value)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace


def main(argv: list[str] | None = None) -> int:
    from ecgqa_tools.encoders import DISEASE_WEIGHT_SETS, DISEASES, DiseaseModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args(argv)
    failed = 0
    to_write = []
    for weights in DISEASE_WEIGHT_SETS:
        for disease in DISEASES:
            model = DiseaseModel(disease, weights=weights)
            computed = model.parameter_head_constant()
            stored = model.card.head_constant
            if computed is None:
                print(f"{model.name}: no single-output head, nothing to store")
            elif stored == computed:
                print(f"{model.name}: card already has {computed}")
            elif stored is not None or args.check:
                print(f"{model.name}: card {stored} != parameters {computed}", file=sys.stderr)
                failed += 1
            else:
                to_write.append((model, computed))
    if failed:
        if to_write:
            print(f"nothing written ({len(to_write)} card(s) without the field left as they are): "
                  f"{failed} card(s) differ from their parameters", file=sys.stderr)
        return 1
    for model, computed in to_write:
        replace(model.card, head_constant=computed, head_constant_computed=True).save(
            model.directory / f"{model.name}.json")
        print(f"{model.name}: wrote {computed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
