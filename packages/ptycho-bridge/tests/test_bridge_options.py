"""The option table (specs/cli.md §4.3) and the one translation of parsed flags into configs: the table agrees with
the config classes and the mapping table, and ``configs_from_flags`` applies the precedence explicit flag > config
file > recipe > class default, the budget rule and the ``--n-images`` alias."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from ptycho_bridge import options
from ptycho_bridge.flag_configs import configs_from_flags, field_values


def test_the_option_table_agrees_with_the_config_classes_and_the_mapping_table(monkeypatch) -> None:
    assert options.option_problems() == []
    broken = dataclasses.replace(options.OPTIONS[1], field="train_data_fil")
    twin = dataclasses.replace(options.OPTIONS[2], field="output_dir")  # --test-data-file storing output_dir
    monkeypatch.setattr(options, "OPTIONS", (*options.OPTIONS, broken, twin))
    problems = options.option_problems()
    assert "--train-data-file: TrainingConfig has no field 'train_data_fil'" in problems
    assert any("--train-data-file belongs to two options" in p for p in problems)


def test_parser_problems_names_a_missing_and_a_foreign_flag() -> None:
    parser = argparse.ArgumentParser()
    options.add_options(parser, "torch.inference")
    assert options.parser_problems(parser, "torch.inference") == []
    parser.add_argument("--foo")
    del parser._option_string_actions["--test_data"]
    problems = options.parser_problems(parser, "torch.inference")
    assert problems == ["torch.inference: --foo (dest foo) is not in the option table",
                        "torch.inference: --test_data of the option table is missing (or stored elsewhere)"]


def test_every_spelling_parses_to_the_field_of_its_option() -> None:
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    options.add_options(parser, "torch.train")
    ns = parser.parse_args(["--epochs", "3", "--subsample_seed", "5", "--checkpoint-monitor", "val_mae", "--quiet"])
    assert vars(ns) == {"max_epochs": 3, "subsample_seed": 5, "checkpoint_monitor": "val_mae", "quiet": True}
    assert options.dest_fields("torch.train")["max_epochs"] == ("training", "nepochs")
    assert options.dest_fields("torch.train")["checkpoint_monitor"] == ("execution", "checkpoint_monitor_metric")


def _file(tmp_path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


def test_configs_from_flags_precedence_flag_over_file_over_recipe(tmp_path) -> None:
    recipe = {"n_filters_scale": 1, "input_projections": 20, "batch_size": 8}
    file = _file(tmp_path, "batch_size: 4\nmodel:\n  n_filters_scale: 4\n  input_projections: 5\n")
    cfg, ex = configs_from_flags({"train_data_file": "a.npz", "output_dir": "o", "gridsize": 2, "config": file,
                                  "input_projections": 3, "learning_rate": 0.01, "quiet": True,
                                  "early_stop_patience": 7, "backend": "ignored, not an option"},
                                 "torch.train", N=64, recipe=recipe)
    assert (cfg.model.N, cfg.model.gridsize, cfg.model.n_filters_scale, cfg.model.input_projections) == (64, 2, 4, 3)
    assert cfg.batch_size == 4 and cfg.backend == "pytorch" and str(cfg.output_dir) == "o"
    assert (cfg.learning_rate, ex.learning_rate, ex.scheduler) == (0.01, 0.01, "Default")
    assert ex.enable_progress_bar is False and ex.early_stop_patience == 7
    default_cfg, default_ex = configs_from_flags({"train_data_file": "a.npz"}, N=128)
    assert default_cfg.model.n_filters_scale == 2 and default_cfg.nepochs == 50
    assert default_ex == dataclasses.replace(default_ex.__class__(), learning_rate=default_cfg.learning_rate)


def test_recipe_depends_on_the_architecture_the_file_chooses(tmp_path) -> None:
    seen = []
    recipe = lambda architecture: seen.append(architecture) or {"n_filters_scale": 1}  # noqa: E731
    cfg, _ = configs_from_flags({"config": _file(tmp_path, "model:\n  architecture: fno\n")}, N=64, recipe=recipe)
    assert seen == ["fno"] and (cfg.model.architecture, cfg.model.n_filters_scale) == ("fno", 1)
    configs_from_flags({"config": _file(tmp_path, "model:\n  architecture: fno\n"), "architecture": "cnn"}, N=64,
                       recipe=recipe)
    assert seen == ["fno", "cnn"]


def test_a_budget_alone_trains_until_the_budget_and_multistage_needs_epochs(tmp_path) -> None:
    cfg, _ = configs_from_flags({"train_data_file": "a.npz", "max_time": "00:00:01:00"}, N=64)
    assert cfg.nepochs is None and cfg.max_time == "00:00:01:00"
    cfg, _ = configs_from_flags({"train_data_file": "a.npz", "max_time": "00:00:01:00",
                                 "config": _file(tmp_path, "nepochs: 9\n")}, N=64)
    assert cfg.nepochs == 9
    _, ex = configs_from_flags({"train_data_file": "a.npz", "max_epochs": 8, "scheduler": "MultiStage"}, N=64)
    assert ex.multistage_milestones == (4, 6)
    with pytest.raises(ValueError, match="MultiStage: expected --max-epochs"):
        configs_from_flags({"train_data_file": "a.npz", "max_time": "00:00:01:00", "scheduler": "MultiStage"}, N=64)


def test_n_images_is_the_deprecated_alias_of_n_groups() -> None:
    with pytest.warns(DeprecationWarning, match="--n-images is deprecated"):
        assert field_values({"n_images": 32}).training == {"n_groups": 32}
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="conflicts with --n-groups 16"):
        field_values({"n_images": 32, "n_groups": 16})


@pytest.mark.parametrize("command", ["train", "torch.train"])
def test_object_big_is_gridsize_above_one_unless_a_source_sets_it(tmp_path, command) -> None:
    """specs/cli.md §4.3: the group canvas only for grouped patterns, in every training command line; a value from
    the ``--config`` file or the recipe is kept (at gridsize 1 both predict the same diffraction:
    packages/ptycho-torch/tests/test_torch_object_big.py)."""
    base = {"train_data_file": "a.npz", "output_dir": "o"}
    assert configs_from_flags(base, command, N=64)[0].model.object_big is False  # default gridsize 1
    assert configs_from_flags({**base, "gridsize": 1}, command, N=64)[0].model.object_big is False
    assert configs_from_flags({**base, "gridsize": 2}, command, N=64)[0].model.object_big is True
    kept = {**base, "gridsize": 1, "config": _file(tmp_path, "model:\n  object_big: true\n")}
    assert configs_from_flags(kept, command, N=64)[0].model.object_big is True
    assert configs_from_flags({**base, "gridsize": 2}, command, N=64,
                              recipe={"object_big": False})[0].model.object_big is False
