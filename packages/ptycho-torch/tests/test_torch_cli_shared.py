"""Unit tests of ptycho_torch.cli.shared and ptycho_bridge.config_file (specs/torch-cli.md §2, §3, §5).

In-process and cheap: parse -> resolve -> build_execution_config -> assert, so each flag's effect on the
execution config is pinned without training. The subprocess runs live in test_torch_cli_train.py /
test_torch_cli_inference.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptycho.config.config import TrainingConfig
from ptycho_bridge import config_file
from ptycho_bridge.config_file import ConfigFileError, load_config_file
from ptycho_torch import train as train_cli
from ptycho_torch.cli import shared
from ptycho_torch.cli.shared import (
    CliError,
    GradientAccumulationError,
    MissingExtraError,
    OutputGuard,
    build_execution_config_from_args,
    resolve_accelerator,
    validate_paths,
)

BASE = ["--train_data_file", "train.npz", "--output_dir", "out"]


def exec_config(*flags: str):
    """Execution config the training CLI would build from BASE + flags, settled (specs/torch-cli.md §2.2)."""
    return build_execution_config_from_args(train_cli.parse_explicit([*BASE, "--accelerator", "cpu", *flags]),
                                            "training")


def resolved(*flags: str):
    """The flags sorted into their homes as ``python -m ptycho_torch.train`` sorts them (flags > file > defaults)."""
    return shared.training_flag_values(train_cli.parse_explicit([*BASE, *flags]))


def configs(*flags: str, N: int = 64):
    """``(TrainingConfig, PyTorchExecutionConfig)`` the training CLI builds from BASE + flags, before settling."""
    return shared.training_configs(resolved(*flags), N=N)


# ---------------------------------------------------------------------------------------------- §2.2 execution


def test_execution_defaults_match_guide_table():
    """specs/torch-cli.md §2.2: defaults of the guide §12 table (accelerator resolved from 'auto')."""
    cfg = exec_config()
    assert cfg.accelerator == "cpu"
    assert (cfg.deterministic, cfg.num_workers, cfg.learning_rate, cfg.scheduler) == (True, 0, 1e-3, "Default")
    assert (cfg.accumulate_grad_batches, cfg.enable_progress_bar, cfg.enable_checkpointing) == (1, True, True)
    assert (cfg.checkpoint_save_top_k, cfg.checkpoint_monitor_metric, cfg.checkpoint_mode) == (1, "val_loss", "min")
    assert (cfg.early_stop_patience, cfg.logger_backend, cfg.devices) == (100, "csv", 1)


@pytest.mark.parametrize(
    "flags, field, value",
    [
        (["--no-deterministic"], "deterministic", False),
        (["--deterministic"], "deterministic", True),
        (["--num-workers", "3"], "num_workers", 3),
        (["--learning-rate", "0.02"], "learning_rate", 0.02),
        (["--scheduler", "Exponential"], "scheduler", "Exponential"),
        (["--scheduler", "Adaptive"], "scheduler", "Adaptive"),
        (["--quiet"], "enable_progress_bar", False),
        (["--disable-checkpointing"], "enable_checkpointing", False),
        (["--disable-checkpointing", "--enable-checkpointing"], "enable_checkpointing", True),
        (["--checkpoint-save-top-k", "-1"], "checkpoint_save_top_k", -1),
        (["--checkpoint-save-top-k", "0"], "checkpoint_save_top_k", 0),
        (["--checkpoint-save-top-k", "0"], "enable_checkpointing", False),
        (["--checkpoint-save-top-k", "3"], "checkpoint_save_top_k", 3),
        (["--checkpoint-monitor", "poisson_train_loss"], "checkpoint_monitor_metric", "poisson_train_loss"),
        (["--checkpoint-mode", "max"], "checkpoint_mode", "max"),
        (["--early-stop-patience", "7"], "early_stop_patience", 7),
        (["--logger", "none"], "logger_backend", "none"),
        (["--devices", "2"], "devices", 2),
        (["--devices", "auto"], "devices", "auto"),
    ],
)
def test_each_execution_flag_reaches_execution_config(flags, field, value):
    """specs/torch-cli.md §2.2: every execution flag changes its execution-config field."""
    assert getattr(exec_config(*flags), field) == value
    sets_default = flags in (["--deterministic"], ["--disable-checkpointing", "--enable-checkpointing"])
    assert (getattr(exec_config(), field) == value) is sets_default


def test_multistage_gets_milestones_from_epochs():
    """specs/torch-cli.md §2.2: --scheduler MultiStage decays at 1/2 and 3/4 of --max_epochs."""
    cfg = exec_config("--scheduler", "MultiStage", "--max_epochs", "8")
    assert cfg.multistage_milestones == (4, 6)
    assert cfg.scheduler_kwargs == {"milestones": [4, 6], "gamma": 0.1}


@pytest.mark.parametrize(
    "flag, bad",
    [
        ("--num-workers", "-1"),
        ("--learning-rate", "0"),
        ("--learning-rate", "nan"),
        ("--checkpoint-save-top-k", "-2"),
        ("--early-stop-patience", "0"),
        ("--accumulate-grad-batches", "0"),
        ("--scheduler", "Cosine"),
        ("--logger", "wandb"),
        ("--checkpoint-mode", "avg"),
        ("--devices", "0"),
        ("--max-epochs", "x"),
        ("--max_epochs", "y"),  # the guide's spelling: the error names the shown one
        ("--N", "100"),
    ],
)
def test_bad_flag_values_raise_one_line_cli_error(flag, bad):
    """specs/torch-cli.md §5: bad values fail at parse time with one line naming the flag."""
    with pytest.raises(CliError) as info:
        train_cli.parse_explicit([*BASE, flag, bad])
    msg = str(info.value)
    assert "\n" not in msg and flag.lstrip("-").replace("_", "-").split("-")[0] in msg


def test_accumulate_grad_batches_above_one_is_refused():
    """specs/torch-cli.md §2.2 (EXEC-ACCUM-001): > 1 raises the documented RuntimeError; 1 passes."""
    _, cfg = configs("--accumulate-grad-batches", "2")
    assert cfg.accumulate_grad_batches == 2
    with pytest.raises(RuntimeError, match="EXEC-ACCUM-001"):
        shared.check_gradient_accumulation(cfg.accumulate_grad_batches)
    with pytest.raises(GradientAccumulationError):  # the command line's execution config refuses it too
        exec_config("--accumulate-grad-batches", "2")
    assert issubclass(GradientAccumulationError, RuntimeError)
    shared.check_gradient_accumulation(exec_config().accumulate_grad_batches)


def test_inference_mode_sets_only_inference_fields():
    """specs/torch-cli.md §4: inference flags -> accelerator, num_workers, inference_batch_size, progress."""
    ns = argparse.Namespace(accelerator="cpu", device=None, num_workers=2, inference_batch_size=5, quiet=True)
    cfg = build_execution_config_from_args(ns, "inference")
    assert (cfg.accelerator, cfg.num_workers, cfg.inference_batch_size, cfg.enable_progress_bar) == ("cpu", 2, 5, False)
    with pytest.raises(ValueError, match="mode"):
        build_execution_config_from_args(ns, "predict")


# ---------------------------------------------------------------------------------------------- accelerator


def test_resolve_accelerator_auto_and_explicit(monkeypatch):
    """specs/torch-cli.md §2.3: 'auto' picks CUDA when present, else CPU; 'gpu' means 'cuda'."""
    monkeypatch.setattr(shared, "_cuda_available", lambda: False)
    assert resolve_accelerator("auto") == "cpu"
    assert resolve_accelerator("cpu") == "cpu"
    with pytest.raises(CliError, match="no CUDA device"):
        resolve_accelerator("cuda")
    monkeypatch.setattr(shared, "_cuda_available", lambda: True)
    assert resolve_accelerator("auto") == "cuda"
    assert resolve_accelerator("gpu") == "cuda"
    with pytest.raises(CliError, match="tpu"):
        resolve_accelerator("tpu")


def test_deprecated_device_maps_with_warning(monkeypatch):
    """specs/torch-cli.md §2.4: --device warns; with accelerator auto it decides, else --accelerator wins."""
    monkeypatch.setattr(shared, "_cuda_available", lambda: True)
    with pytest.warns(DeprecationWarning, match="--device is deprecated"):
        assert resolve_accelerator("auto", "cpu") == "cpu"
    with pytest.warns(DeprecationWarning, match="ignoring --device"):
        assert resolve_accelerator("cuda", "cpu") == "cuda"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_accelerator("auto", None) == "cuda"  # no --device: no warning (the original always warned)
    with pytest.warns(DeprecationWarning):
        assert exec_config("--device", "cpu").accelerator == "cpu"


def test_deprecated_disable_mlflow_maps_to_logger_none_and_quiet():
    """specs/torch-cli.md §2.4: --disable_mlflow -> logger 'none' + no progress bar, with a DeprecationWarning."""
    with pytest.warns(DeprecationWarning, match="--disable_mlflow is deprecated"):
        cfg = exec_config("--disable_mlflow", "--logger", "csv")
    assert cfg.logger_backend == "none" and cfg.enable_progress_bar is False


# ---------------------------------------------------------------------------------------------- logger extras


@pytest.mark.parametrize("backend, extra", [("tensorboard", "tensorboard"), ("mlflow", "mlflow")])
def test_logger_extra_missing_fails_at_once_with_install_command(monkeypatch, backend, extra):
    """specs/torch-cli.md §2.5: absent extra -> MissingExtraError naming pip install 'ptycho-torch[extra]'."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == extra else real(name, *a))
    with pytest.raises(MissingExtraError, match=rf"pip install 'ptycho-torch\[{extra}\]'"):
        exec_config("--logger", backend)


@pytest.mark.parametrize("backend, extra", [("tensorboard", "tensorboard"), ("mlflow", "mlflow")])
def test_train_cli_exits_2_before_any_work_when_extra_missing(monkeypatch, tmp_path, capsys, backend, extra):
    """specs/torch-cli.md §5: the missing extra is reported before the data are even read (no file exists)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == extra else real(name, *a))
    out = tmp_path / "run"
    code = train_cli.main(["--train_data_file", str(tmp_path / "missing.npz"), "--output_dir", str(out),
                           "--accelerator", "cpu", "--logger", backend])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and f"ptycho-torch[{extra}]" in err[0]
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- paths and rollback


def test_validate_paths(tmp_path):
    """specs/torch-cli.md §5: missing inputs and a file as output folder are CliErrors; output is created."""
    f = tmp_path / "a.npz"
    f.write_bytes(b"x")
    with pytest.raises(CliError, match="training data file .*no such file"):
        validate_paths(tmp_path / "none.npz", None, tmp_path / "o")
    with pytest.raises(CliError, match="test data file .*directory"):
        validate_paths(f, tmp_path, tmp_path / "o")
    with pytest.raises(CliError, match="expected a directory"):
        validate_paths(f, None, f / "sub")
    out = tmp_path / "o" / "deep"
    assert validate_paths(f, f, out, create=False) == out and not out.exists()
    assert validate_paths(f, f, out) == out and out.is_dir()


def test_output_guard_removes_only_new_paths(tmp_path):
    """specs/torch-cli.md §5: rollback deletes what the failed run wrote and keeps earlier contents."""
    out = tmp_path / "run"
    (out / "lightning_logs" / "version_0").mkdir(parents=True)
    (out / "keep.txt").write_text("old")
    guard = OutputGuard(out)
    (out / "lightning_logs" / "version_1").mkdir()
    (out / "lightning_logs" / "version_1" / "metrics.csv").write_text("x")
    (out / "checkpoints").mkdir()
    (out / "checkpoints" / "last.ckpt").write_bytes(b"x")
    guard.rollback()
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "keep.txt", "lightning_logs", "lightning_logs/version_0"]
    fresh = tmp_path / "fresh"
    guard = OutputGuard(fresh)
    (fresh / "checkpoints").mkdir(parents=True)
    guard.rollback()
    assert not fresh.exists()


def test_run_cli_contract(capsys):
    """specs/torch-cli.md §5: input errors -> exit 2, one stderr line; others -> exit 1; never a traceback."""

    def bad(_argv):
        raise ValueError("file x.npz: key 'diffraction': expected 3-D\nfound 2-D")

    def boom(_argv):
        raise KeyError("internal")

    assert shared.run_cli("prog", bad, []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("prog: error: file x.npz") and "Traceback" not in err
    assert shared.run_cli("prog", boom, []) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err


# ---------------------------------------------------------------------------------------------- §3 config file


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_config_file_yaml_nested_and_flat(tmp_path):
    """specs/torch-cli.md §3: YAML with nested model fields and flat model fields load the same values."""
    nested = write(tmp_path, "a.yaml", "batch_size: 8\nnepochs: 3\nmodel:\n  gridsize: 2\n  n_filters_scale: 1\n")
    flat = write(tmp_path, "b.yml", "batch_size: 8\nnepochs: 3\ngridsize: 2\nn_filters_scale: 1\n")
    for p in (nested, flat):
        v = load_config_file(p)
        assert v.training == {"batch_size": 8, "nepochs": 3}
        assert v.model == {"gridsize": 2, "n_filters_scale": 1}


def test_config_file_accepts_config_to_dict_output(tmp_path):
    """specs/torch-cli.md §3: a saved canonical config (config_to_dict JSON) is a valid --config file."""
    from ptycho.config.config import ModelConfig, config_to_dict

    cfg = TrainingConfig(model=ModelConfig(gridsize=2, amp_activation="silu"), nepochs=4, learning_rate=5e-4)
    p = write(tmp_path, "c.json", json.dumps(config_to_dict(cfg)))
    v = load_config_file(p)
    assert v.training["nepochs"] == 4 and v.training["learning_rate"] == 5e-4
    assert v.model["gridsize"] == 2 and v.model["amp_activation"] == "swish"


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("x.yaml", "batch_size: [1\n", "error at line"),
        ("x.json", "{\"batch_size\": }", "syntax error at line 1"),
        ("x.toml", "a = 1", "suffix"),
        ("x.yaml", "- 1\n- 2\n", "mapping"),
        ("x.yaml", "batchsize: 3\n", "unknown field.*batchsize"),
        ("x.yaml", "model:\n  grid: 2\n", "model: unknown field.*grid"),
        ("x.yaml", "gridsize: 2\nmodel:\n  gridsize: 2\n", "both at the top level"),
        ("x.yaml", "batch_size: 0\n", "batch_size"),
        ("x.yaml", "model:\n  N: 100\n", "ModelConfig.N"),
        ("x.yaml", "config_type: InferenceConfig\n", "config_type"),
        ("x.yaml", "learning_rate: !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
    ],
)
def test_config_file_errors_are_one_line(tmp_path, name, text, match):
    """specs/torch-cli.md §3: every bad file is a ConfigFileError naming the file, in one line."""
    p = write(tmp_path, name, text)
    with pytest.raises(ConfigFileError, match=match) as info:
        load_config_file(p)
    assert str(p) in str(info.value) and "\n" not in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigFileError, match="no such file"):
        load_config_file(tmp_path / "nope.yaml")


def test_config_file_n_images_alias(tmp_path):
    """specs/torch-cli.md §3: n_images in a file is the deprecated alias of n_groups."""
    with pytest.warns(DeprecationWarning, match="n_images"):
        v = load_config_file(write(tmp_path, "n.yaml", "n_images: 32\n"))
    assert v.training == {"n_groups": 32}


def test_explicit_flags_beat_config_file_which_beats_defaults(tmp_path):
    """specs/torch-cli.md §3: precedence explicit flag > --config > default, field by field.

    The original parsed argparse defaults over the file; here a flag left out never overwrites it.
    """
    p = write(tmp_path, "c.yaml", "batch_size: 8\nnepochs: 3\nlearning_rate: 0.005\nscheduler: Exponential\n"
              "gridsize: 2\nneighbor_count: 6\nnphotons: 1.0e6\n")
    v = resolved("--config", str(p), "--batch_size", "4", "--gridsize", "1")
    assert v.training["batch_size"] == 4 and v.model["gridsize"] == 1  # flags win
    assert v.training["nepochs"] == 3 and v.training["neighbor_count"] == 6 and v.training["nphotons"] == 1e6  # file
    config, ex = configs("--config", str(p), "--batch_size", "4", "--gridsize", "1")
    assert (config.batch_size, config.model.gridsize, config.nepochs, config.nphotons) == (4, 1, 3, 1e6)
    assert (config.learning_rate, config.scheduler) == (ex.learning_rate, ex.scheduler) == (0.005, "Exponential")
    cfg = exec_config("--config", str(p))
    assert cfg.learning_rate == 0.005 and cfg.scheduler == "Exponential"
    config, ex = configs("--config", str(p), "--learning-rate", "0.1")
    assert config.learning_rate == ex.learning_rate == 0.1
    v = resolved()
    assert "batch_size" not in v.training and "gridsize" not in v.model  # canonical defaults apply later
    config, ex = configs()
    assert (config.batch_size, config.nepochs, ex.learning_rate) == (TrainingConfig.batch_size,
                                                                     TrainingConfig.nepochs, TrainingConfig.learning_rate)


def test_n_images_alias_of_n_groups():
    """specs/torch-cli.md §2.1: --n_images sets n_groups with a DeprecationWarning; a conflict is an error."""
    with pytest.warns(DeprecationWarning, match="--n-images"):
        config, _ = configs("--n_images", "32")
    assert config.n_groups == 32
    config, _ = configs("--n_groups", "16")
    assert config.n_groups == 16
    with pytest.raises(CliError, match="conflicts"), pytest.warns(DeprecationWarning):
        resolved("--n_images", "32", "--n_groups", "16")


@settings(max_examples=25, deadline=None)
@given(
    file_bs=st.integers(1, 64),
    flag_bs=st.one_of(st.none(), st.integers(1, 64)),
    file_lr=st.floats(1e-5, 1.0),
    flag_lr=st.one_of(st.none(), st.floats(1e-5, 1.0)),
)
def test_precedence_property(tmp_path_factory, file_bs, flag_bs, file_lr, flag_lr):
    """specs/torch-cli.md §3: for any values, the resolved value is the flag's when given, else the file's."""
    p = tmp_path_factory.mktemp("cfg") / "c.json"
    p.write_text(json.dumps({"batch_size": file_bs, "learning_rate": file_lr}))
    flags = ["--config", str(p)]
    if flag_bs is not None:
        flags += ["--batch_size", str(flag_bs)]
    if flag_lr is not None:
        flags += ["--learning-rate", repr(flag_lr)]
    config, ex = configs(*flags)
    assert config.batch_size == (file_bs if flag_bs is None else flag_bs)
    assert config.learning_rate == ex.learning_rate == (file_lr if flag_lr is None else flag_lr)


def test_config_file_fields_cover_canonical_training_config():
    """specs/torch-cli.md §3: every canonical TrainingConfig/ModelConfig field is settable from a file."""
    from dataclasses import fields

    from ptycho.config.config import ModelConfig

    assert set(config_file.TRAINING_FIELDS) == {f.name for f in fields(TrainingConfig)} - {"model"}
    assert set(config_file.MODEL_FIELDS) == {f.name for f in fields(ModelConfig)}


def test_cli_modules_import_without_torch():
    """specs/torch-cli.md §1: parsing and bad-flag errors need no torch/lightning import (fast failure)."""
    import subprocess
    import sys

    code = ("import sys, ptycho_torch.train, ptycho_torch.inference, ptycho_bridge.config_file; "
            "print(sorted(m for m in ('torch', 'lightning', 'tensorflow') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
