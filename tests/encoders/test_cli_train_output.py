"""Where `ecgqa train` writes: a user folder by default, the shipped folder only with --install and a
recipe matching the shipped card (or --force); `train cv` offers no output flags; the help lists the
shipped recipes. Training runs on tiny synthetic data (about a second); the package's own weights folder
is replaced by a temporary copy of the shipped cards, so no test can touch the real shipped files."""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import replace

import numpy as np
import pytest

from ecgqa_tools.cli import main
from ecgqa_tools.encoders import _cv, _jobs, _package, model_cards
from ecgqa_tools.encoders._cards import ModelCard
from ecgqa_tools.encoders._install import SHIPPED_RECIPES
from ecgqa_tools.encoders._jobs import DEFAULT_DISEASE_CONFIG
from ecgqa_tools.encoders._ptbxl_arrays import TrainingArrays

TINY = replace(DEFAULT_DISEASE_CONFIG, hparams={"channels": [4, 8], "kernel": 5, "hidden": 8}, epochs=1,
               batch_size=16)
SHIPPED = _package.WEIGHTS_DIR


@pytest.fixture
def package_dir(tmp_path, monkeypatch):
    """A stand-in for the package's weights folder holding copies of the shipped cards."""
    folder = tmp_path / "package_weights"
    folder.mkdir()
    for card in SHIPPED.glob("*.json"):
        shutil.copy(card, folder / card.name)
    monkeypatch.delenv("ECGQA_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(_package, "WEIGHTS_DIR", folder)
    return folder


@pytest.fixture
def fake_ptbxl(tmp_path, monkeypatch):
    """Ten folds of 8 synthetic records (MI = spikes on lead I) and a tiny baseline recipe."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 12, 1000)).astype(np.float32)
    y = np.tile([0.0, 1.0], 40).astype(np.float32)
    x[y == 1, 0, ::50] += 3.0
    folds = np.repeat(np.arange(1, 11), 8)
    arrays = TrainingArrays(np.arange(1, 81), x.astype(np.float16), np.array(["records100"] * 80))
    monkeypatch.setattr(_jobs, "load_arrays", lambda *a, **k: arrays)
    monkeypatch.setattr(_jobs, "disease_targets", lambda *a, **k: (y, folds))
    monkeypatch.setitem(_cv.VARIANTS, "baseline", TINY)
    data = tmp_path / "data"
    data.mkdir()
    return data


def _train(data, work, *extra: str) -> int:
    return main(["train", "disease", "--disease", "MI", "--data-dir", str(data), "--work-dir", str(work),
                 "--quiet", *extra])


def _files(folder, name: str) -> set[str]:
    return {p.name for p in folder.glob(f"{name}.*")}


def test_default_writes_into_the_work_dir_and_leaves_the_shipped_model_alone(package_dir, fake_ptbxl, tmp_path,
                                                                             capsys):
    before = (package_dir / "disease_MI.json").read_bytes()
    work = tmp_path / "work"
    assert _train(fake_ptbxl, work) == 0
    out = capsys.readouterr().out
    assert _files(work / "weights", "disease_MI") == {"disease_MI.pt", "disease_MI.onnx", "disease_MI.json"}
    assert f"disease_MI: wrote {work / 'weights' / 'disease_MI'}.pt, .onnx and .json" in out
    assert "the shipped disease_MI is unchanged" in out
    assert (package_dir / "disease_MI.json").read_bytes() == before
    assert _files(package_dir, "disease_MI") == {"disease_MI.json"}
    card = ModelCard.load(work / "weights" / "disease_MI.json")
    assert card.version == "1" and card.train_config["epochs"] == 1


def test_out_dir_is_used_as_given(package_dir, fake_ptbxl, tmp_path, capsys):
    mine = tmp_path / "mine"
    assert _train(fake_ptbxl, tmp_path / "work", "--out-dir", str(mine)) == 0
    assert _files(mine, "disease_MI") == {"disease_MI.pt", "disease_MI.onnx", "disease_MI.json"}
    assert not (tmp_path / "work" / "weights").exists()
    assert str(mine / "disease_MI") in capsys.readouterr().out


def test_install_refuses_another_recipe_before_any_training(package_dir, tmp_path, monkeypatch, capsys):
    def no_training(*a, **k):
        raise AssertionError("training started although --install was refused")

    monkeypatch.setattr(_jobs, "load_arrays", no_training)
    before = (package_dir / "disease_MI.json").read_bytes()
    data = tmp_path / "data"
    data.mkdir()
    assert _train(data, tmp_path / "work", "--install") == 1  # the defaults: --seeds 0, 15 epochs, --version 1
    err = capsys.readouterr().err
    assert err.startswith("error: --install would replace the installed disease_MI (version 4")
    assert "version: 4 -> 1" in err and "epochs: 30 -> 15" in err and "seeds: [0, 1, 2] -> [0]" in err
    assert "ema_half_life_epochs: 1.0 -> 0.0" in err
    assert "--force" in err and "Traceback" not in err
    assert (package_dir / "disease_MI.json").read_bytes() == before and not (tmp_path / "work").exists()


def test_install_replaces_when_the_recipe_matches_and_force_overrides_a_mismatch(package_dir, fake_ptbxl,
                                                                                 tmp_path, capsys):
    mine = tmp_path / "mine"
    assert _train(fake_ptbxl, tmp_path / "work", "--out-dir", str(mine)) == 0
    shutil.copy(mine / "disease_MI.json", package_dir / "disease_MI.json")  # "shipped" = this tiny recipe
    capsys.readouterr()
    assert _train(fake_ptbxl, tmp_path / "work", "--install") == 0
    assert _files(package_dir, "disease_MI") == {"disease_MI.pt", "disease_MI.onnx", "disease_MI.json"}
    out = capsys.readouterr().out
    assert f"disease_MI: wrote {package_dir / 'disease_MI'}.pt" in out and "unchanged" not in out
    assert _train(fake_ptbxl, tmp_path / "work", "--install", "--version", "9") == 1
    assert "version: 1 -> 9" in capsys.readouterr().err
    assert _train(fake_ptbxl, tmp_path / "work", "--install", "--version", "9", "--force") == 0
    assert ModelCard.load(package_dir / "disease_MI.json").version == "9"


@pytest.mark.parametrize("flags", [["--force"], ["--install", "--out-dir", "x"]])
def test_inconsistent_output_flags_are_refused(package_dir, tmp_path, capsys, flags):
    assert _train(tmp_path, tmp_path / "work", *flags) == 1
    assert capsys.readouterr().err.startswith("error: --")


def test_out_dir_at_the_shipped_folder_needs_install(package_dir, tmp_path, capsys):
    assert _train(tmp_path, tmp_path / "work", "--out-dir", str(package_dir)) == 1
    assert "is the folder the shipped models are loaded from; use --install" in capsys.readouterr().err


def test_weights_dir_variable_is_the_install_target_and_guarded_too(package_dir, tmp_path, monkeypatch, capsys):
    other = tmp_path / "other_weights"
    other.mkdir()
    shutil.copy(package_dir / "age_sex.json", other / "age_sex.json")
    monkeypatch.setenv("ECGQA_WEIGHTS_DIR", str(other))
    assert main(["train", "age-sex", "--install", "--seed", "1", "--data-dir", str(tmp_path)]) == 1
    assert "installed age_sex" in capsys.readouterr().err
    (other / "age_sex.json").unlink()  # nothing installed there under that name: nothing to protect
    assert main(["train", "age-sex", "--install", "--seed", "1", "--data-dir", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.startswith("error: data folder not found")
    assert main(["train", "age-sex", "--out-dir", str(other), "--data-dir", str(tmp_path)]) == 1
    assert "use --install" in capsys.readouterr().err


def test_cv_offers_no_output_flags(capsys):
    assert main(["train", "cv", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--work-dir" in text and "--epochs" in text
    for flag in ("--out-dir", "--version", "--install", "--force"):
        assert flag not in text
    assert main(["train", "cv", "--out-dir", "x"]) == 2


def _recipe_args(command: str, name: str, flags: str) -> list[tuple[str, list[str]]]:
    """(card name, argument list) of one help entry, ``<code>`` expanded over the shipped
    ``disease_<code>_ecgqa`` models."""
    if "<code>" not in name:
        return [(name, ["train", command, *shlex.split(flags)])]
    pattern = re.compile(re.escape(name).replace("<code>", "(\\w+)") + "$")
    codes = [m.group(1) for n in model_cards() if (m := pattern.match(n))]
    assert codes, name
    return [(name.replace("<code>", c), ["train", command, *shlex.split(flags.replace("<code>", c))]) for c in codes]


def test_each_help_lists_the_shipped_recipes_and_they_pass_the_install_check(package_dir, tmp_path, capsys):
    listed = set()
    missing = tmp_path / "no-data"  # the check runs first; a matching recipe then fails on the data folder
    for command, recipes in SHIPPED_RECIPES.items():
        assert main(["train", command, "--help"]) == 0
        help_text = "".join(capsys.readouterr().out.split())
        for name, flags in recipes:
            assert "".join(f"{name}: {flags}".split()) in help_text
            for card_name, argv in _recipe_args(command, name, flags):
                assert main([*argv, "--install", "--data-dir", str(missing)]) == 1
                err = capsys.readouterr().err
                assert err.startswith("error: data folder not found"), (argv, err)
                listed.add(card_name)
    assert listed == set(model_cards())  # every shipped model has its recipe in the help


def test_the_recipes_in_the_help_are_the_cards_recorded_commands():
    cards = model_cards()
    for command, recipes in SHIPPED_RECIPES.items():
        for name, flags in recipes:
            for card_name, argv in _recipe_args(command, name, flags):
                recorded = shlex.split(cards[card_name].training_command)
                i = recorded.index("--data-dir")
                recorded = [a for k, a in enumerate(recorded[3:], 3) if k not in (i, i + 1)]
                ours = argv[2:]
                if card_name == "attributes":  # recorded as --version 2; the card is 2.1 (thresholds rule, same weights)
                    recorded[recorded.index("--version") + 1] = cards[card_name].version
                assert sorted(recorded) == sorted(ours), card_name


def test_multitask_refuses_a_variant_it_would_ignore(tmp_path, capsys):
    assert _train(tmp_path, tmp_path / "work", "--multitask", "--variant", "aug30") == 1
    assert "--variant aug30 does not apply to --multitask" in capsys.readouterr().err
