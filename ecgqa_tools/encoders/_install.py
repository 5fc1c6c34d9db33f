"""Where ``ecgqa train`` writes a trained model: a user folder by default; the package's weights
folder (replacing a shipped model) only with ``--install``, and then only when the recipe matches
the shipped card's (or with ``--force``), so nobody replaces a shipped model by accident."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError, UsageError
from ._cards import ModelCard

if TYPE_CHECKING:
    from ._training import TrainConfig

USER_WEIGHTS_SUBDIR = "weights"
"""``ecgqa train`` writes into ``<work-dir>/weights/`` unless told otherwise."""

_PER_RUN_KEYS = frozenset({"seed"})
"""train_config keys that differ between the runs of one recipe (the card's ``seeds`` list covers them)."""


SHIPPED_RECIPES: dict[str, tuple[tuple[str, str], ...]] = {
    "disease": (
        ("disease_MI", "--disease MI --seeds 0,1,2 --variant ema30 --version 4"),
        ("disease_CD", "--disease CD --seeds 0,1,2 --variant ema30 --version 4"),
        ("disease_STTC", "--disease STTC --seeds 0,1,2 --variant ema15 --version 3"),
        ("disease_HYP", "--disease HYP --seeds 0,1,2 --variant aux30 --version 4"),
        ("disease_<code>_ecgqa", "--disease <code> --seeds 0 --split ecgqa --version 1-ecgqa"),
    ),
    "attributes": (("attributes", "--seed 0 --version 2.1"),),
    "age-sex": (("age_sex", "--seed 0"),),
    "axis-ptbxl": (("axis_ptbxl", ""),),
}
"""Per ``ecgqa train`` command, the flags that reproduce each shipped model's recipe (its card's
training_command without --data-dir, with the card's version), shown in ``--help``; a test checks them
against the shipped cards."""

_RECIPE_NOTES: dict[str, str] = {
    "disease": "variant baseline: 15 epochs unless --epochs; --epochs 30 = --variant epochs30",
    "attributes": "40 epochs; the v2 weights with the card's threshold rule of v2.1, which this command writes",
    "age-sex": "20 epochs",
    "axis-ptbxl": "no flags: 20 epochs, seeds 0,1,2, the session-7 protocol",
}


def shipped_recipes_help(command: str) -> str:
    """The ``ecgqa train <command> --help`` epilog: the shipped recipes and where the weights go."""
    recipes = "; ".join(f"{name}: {flags}" for name, flags in SHIPPED_RECIPES[command])
    return (f"Shipped recipes ({_RECIPE_NOTES[command]}): {recipes}. Weights + card go to <work-dir>/weights/ "
            "unless --out-dir; --install (maintainers) replaces the shipped model and refuses a recipe that "
            "differs from its card unless --force.")


def user_weights_dir(work_dir: Path) -> Path:
    """The default output folder of ``ecgqa train``: ``<work-dir>/weights``."""
    return work_dir / USER_WEIGHTS_SUBDIR


def card_train_config(config: TrainConfig, seeds: tuple[int, ...]) -> dict[str, Any]:
    """The ``train_config`` a run of ``config`` over ``seeds`` writes into its card."""
    return {**asdict(config), "seeds": list(seeds)}


def _defaults() -> dict[str, Any]:
    from ._training import train_config_defaults

    return train_config_defaults()


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def recipe_differences(card: ModelCard, train_config: dict[str, Any], version: str) -> list[str]:
    """What a new run would change in ``card``: ``"<key>: <card value> -> <new value>"`` for the
    version and every train_config entry (epochs, seeds, network, hparams, augmentation...) that
    differs. A key missing on one side (a field added after the card was written) counts as its
    ``TrainConfig`` default. Empty when the run reproduces the card's recipe."""
    defaults = _defaults()
    diffs = [] if card.version == version else [f"version: {card.version} -> {version}"]
    for key in sorted((set(card.train_config) | set(train_config)) - _PER_RUN_KEYS):
        old = _plain(card.train_config.get(key, defaults.get(key)))
        new = _plain(train_config.get(key, defaults.get(key)))
        if old != new:
            diffs.append(f"{key}: {json.dumps(old)} -> {json.dumps(new)}")
    return diffs


def check_install(folder: Path, name: str, train_config: dict[str, Any], version: str, force: bool) -> None:
    """Before training with ``--install``: refuse (``UsageError``) to replace ``folder/<name>`` when the
    installed card's recipe differs from the run's, unless ``force``. A model not installed yet, or an
    exact reproduction of the installed recipe, passes."""
    path = folder / f"{name}.json"
    if force or not path.is_file():
        return
    try:
        card = ModelCard.load(path)
    except ModelError as exc:
        raise UsageError(f"--install would replace {name} in {folder}, whose card cannot be read ({exc}); "
                         "pass --force to replace it anyway") from None
    diffs = recipe_differences(card, train_config, version)
    if diffs:
        raise UsageError(
            f"--install would replace the installed {name} (version {card.version}, recorded command: "
            f"{card.training_command}) with a different recipe ({'; '.join(diffs)}); "
            f"train without --install to write into a folder of your own, repeat the recorded command "
            f"with --install to reproduce it, or pass --force to replace it anyway")
