"""``ptycho infer`` and ``python -m ptycho_torch.inference`` translate their flags with one function
(specs/cli.md §4.3, specs/architecture.md §5): ``ptycho_bridge.flag_configs.inference_configs_from_flags`` over the
option table and the bundle's stored TrainingConfig. The same flags give the same ``(InferenceConfig,
PyTorchExecutionConfig)``, compared whole, through each command's own parser and, end to end, through each
command's ``main`` up to the run both call (``ptycho_torch.inference.run_inference``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptycho.config.config import InferenceConfig, ModelConfig, TrainingConfig
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_bridge.options import options_for
from ptycho_cli.delegate import inference_configs
from ptycho_cli.main import build_parser
from ptycho_cli.main import main as ptycho_main

inference = pytest.importorskip("ptycho_torch.inference")
from ptycho_torch.cli.shared import inference_flag_values  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
#: a stored training config whose grouping fields are not the defaults, so taking them from the bundle shows
STORED = TrainingConfig(model=ModelConfig(N=64, gridsize=2, n_filters_scale=1, object_big=True), batch_size=12,
                        neighbor_count=6, subsample_seed=9, n_subsample=40, neighbor_pool_size=8, n_groups=33,
                        backend="pytorch")
BASE = ["--model_path", "m", "--test_data", "t.npz", "--output_dir", "o"]
FLAG_SETS = [
    [],
    ["--n-groups", "7", "--accelerator", "cpu", "--num-workers", "2", "--precision", "bf16-mixed",
     "--inference-batch-size", "3"],
    ["--n_images", "5", "--quiet", "--num_workers", "1", "--inference_batch_size", "2"],
    ["--model-path", "m2", "--test-data", "u.npz", "--output-dir", "o2", "--n_groups", "4", "--precision", "16-mixed"],
]


def _ptycho(flags: list[str]):
    args, extra = build_parser().parse_known_args(["infer", *BASE, *flags])
    assert extra == []
    return inference_configs(args, STORED, "pytorch")


def _torch(flags: list[str]):
    return inference.inference_configs(inference_flag_values(inference.build_parser().parse_args([*BASE, *flags])),
                                       STORED)


@pytest.mark.parametrize("flags", FLAG_SETS)
def test_the_two_inference_command_lines_build_the_same_configs(flags):
    assert _ptycho(flags) == _torch(flags)


def test_every_inference_option_is_compared():
    """Each option of ``ptycho infer`` (and the shared ones of ``python -m ptycho_torch.inference``) is given in
    some case above: a flag added to the table without a comparison fails here."""
    given = {build_parser()._subparsers._group_actions[0].choices["infer"]._option_string_actions[f].dest
             for flags in FLAG_SETS for f in flags if f.startswith("--")}
    assert {o.name for o in options_for("infer")} <= given | {"model_path", "test_data", "output_dir"}
    assert {o.name for o in options_for("torch.inference")} - given <= {"model_path", "test_data", "output_dir",
                                                                         "device"}


def test_configs_field_by_field():
    """Independent of the shared function: the fields the flags set, the bundle's model and grouping, the bundle's
    batch size when none is given; the stored n_groups is not taken (unset = every position)."""
    config, execution = _ptycho(FLAG_SETS[1])
    assert config == InferenceConfig(model=STORED.model, model_path=Path("m"), test_data_file=Path("t.npz"),
                                     output_dir=Path("o"), n_groups=7, n_subsample=40, subsample_seed=9,
                                     neighbor_count=6, enable_oversampling=False, neighbor_pool_size=8,
                                     backend="pytorch")
    assert execution == PyTorchExecutionConfig(accelerator="cpu", num_workers=2, precision="bf16-mixed",
                                               inference_batch_size=3, enable_progress_bar=True)
    config, execution = _torch([])
    assert (config.n_groups, execution.inference_batch_size, execution.accelerator) == (None, 12, "auto")


def test_a_rejected_value_is_one_line_naming_the_field():
    from types import SimpleNamespace

    from ptycho_cli.errors import UserError

    # a stored config the InferenceConfig refuses (a group of 4 with 2 neighbours)
    bad = SimpleNamespace(model=ModelConfig(N=64, gridsize=2), batch_size=4, n_subsample=None, subsample_seed=None,
                          neighbor_count=2, enable_oversampling=False, neighbor_pool_size=None)
    args, _ = build_parser().parse_known_args(["infer", *BASE])
    with pytest.raises(UserError, match="neighbor_count") as caught:
        inference_configs(args, bad, "pytorch")
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(not FIXTURE.is_file(), reason=f"fixture {FIXTURE} not generated yet")
@pytest.mark.parametrize("flags", [[], ["--n-groups", "7", "--num-workers", "2", "--precision", "bf16-mixed",
                                                     "--inference-batch-size", "3", "--quiet"]])
def test_both_commands_hand_the_run_the_same_configs(tmp_path, monkeypatch, flags):
    """End to end: ``ptycho infer --backend pytorch`` and ``python -m ptycho_torch.inference`` with the same flags
    reach ``run_inference`` with equal configs and the models the bundle loader returned."""
    from ptycho_torch.backend import TorchBackend

    runs = []
    monkeypatch.setattr(inference, "run_inference",
                        lambda models, config, execution, *, prog: runs.append((models, config, execution)) or 0)
    monkeypatch.setattr(inference, "load_bundle", lambda path: ("models", STORED))
    monkeypatch.setattr(TorchBackend, "load_bundle", lambda self, path: ("models", STORED))
    argv = ["--model_path", str(tmp_path), "--test_data", str(FIXTURE), "--output_dir", str(tmp_path / "o"),
            "--accelerator", "cpu", *flags]
    assert inference.main(argv) == 0
    assert ptycho_main(["infer", "--backend", "pytorch", *argv]) == 0
    (m1, c1, e1), (m2, c2, e2) = runs
    assert (m1, m2) == ("models", "models")
    assert c1 == c2 and e1 == e2
    assert (c1.model, c1.neighbor_count, e1.accelerator) == (STORED.model, 6, "cpu")
