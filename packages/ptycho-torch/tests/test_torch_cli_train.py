"""``python -m ptycho_torch.train`` end to end on the minimal fixture (specs/torch-cli.md §2, §3, §5, §6).

Two subprocess runs (the CLI as users run it) check the artefacts; tiny in-process runs (``main(argv)``,
sharing this process's torch import) prove the effect of the flags that need real training: the
scheduler's logged learning rates, determinism, workers, checkpoint monitor/mode/patience. Everything
else is pinned cheaply at the config level. All runs: N=64, n_filters_scale=1 (via --config), 1 step per
epoch where possible.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"
FINAL = re.compile(r"^bundle_path=(?P<path>.+) bundle_sha256=(?P<sha>[0-9a-f]{64})$")

pytestmark = pytest.mark.skipif(not FIXTURE.is_file(), reason=f"fixture {FIXTURE} not generated yet")


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run([sys.executable, "-m", "ptycho_torch.train", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def metrics_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "lightning_logs" / "version_0" / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def lr_per_epoch(out: Path) -> list[float]:
    rows = [r for r in metrics_rows(out) if r.get("lr")]
    return [float(r["lr"]) for r in sorted(rows, key=lambda r: int(r["epoch"]))]


def bundle_config(out: Path) -> dict:
    with zipfile.ZipFile(out / "wts.h5.zip") as zf:
        return json.loads(zf.read("config.json"))


def ckpt_callbacks(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)["callbacks"]


@pytest.fixture(scope="module")
def nfs1(tmp_path_factory) -> Path:
    """Config file: small network, plus values the flags of the csv run override (precedence check)."""
    p = tmp_path_factory.mktemp("cfg") / "small.yaml"
    p.write_text("model:\n  n_filters_scale: 1\nbatch_size: 8\nnepochs: 5\nnphotons: 1e6\n")
    return p


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory, nfs1):
    """Subprocess, gridsize 1, validation data, csv logger, Exponential schedule, keep all checkpoints."""
    out = tmp_path_factory.mktemp("csv") / "run"
    proc = run_cli("--config", str(nfs1), "--train_data_file", str(FIXTURE), "--test_data_file", str(FIXTURE),
                   "--output_dir", str(out), "--n_groups", "32", "--batch_size", "16", "--max_epochs", "2",
                   "--accelerator", "cpu", "--scheduler", "Exponential", "--checkpoint-save-top-k", "-1",
                   "--logger", "csv")
    return out, proc


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory, nfs1):
    """Subprocess, gridsize 2, no validation, --quiet --logger none, no checkpoints, default accelerator."""
    out = tmp_path_factory.mktemp("quiet") / "run"
    proc = run_cli("--train_data_file", str(FIXTURE), "--output_dir", str(out), "--n_groups", "16", "--gridsize", "2",
                   "--batch_size", "16", "--max_epochs", "1", "--quiet", "--logger", "none",
                   "--checkpoint-save-top-k", "0", "--config", str(nfs1))
    return out, proc


# ------------------------------------------------------------------------------------------- subprocess runs


def test_csv_run_final_line_is_bundle_path_and_sha256(csv_run):
    """specs/torch-cli.md §6: last stdout line = bundle path + SHA-256 of the written wts.h5.zip."""
    out, proc = csv_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = FINAL.match(proc.stdout.strip().splitlines()[-1])
    assert m, proc.stdout[-500:]
    bundle = Path(m["path"])
    assert bundle == (out / "wts.h5.zip").resolve()
    assert m["sha"] == hashlib.sha256(bundle.read_bytes()).hexdigest()


def test_csv_run_metrics_and_exponential_lr(csv_run):
    """specs/torch-cli.md §2.2/§6: metrics.csv under lightning_logs/version_0 with train and val losses;
    --scheduler Exponential really decays the logged learning rate by 0.95 per epoch; 2 epochs of 2 steps."""
    out, proc = csv_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = metrics_rows(out)
    cols = set(rows[0])
    assert {"epoch", "step", "lr", "poisson_train_loss_epoch", "poisson_val_loss"} <= cols
    assert lr_per_epoch(out) == pytest.approx([1e-3, 1e-3 * 0.95], rel=1e-6)
    steps = {int(r["step"]) for r in rows if r.get("poisson_train_loss_step")}
    assert steps == {0, 1, 2, 3}  # --n_groups 32 / --batch_size 16 = 2 steps per epoch, --max_epochs 2


def test_csv_run_checkpoints_keep_all_and_monitor_alias(csv_run):
    """specs/torch-cli.md §2.2: top-k -1 keeps every epoch's checkpoint (+ last.ckpt); 'val_loss' is
    aliased to the model's validation loss name; default mode min and patience 100 reach the callbacks."""
    out, proc = csv_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpts = sorted(p.name for p in (out / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and len(ckpts) == 3, ckpts
    cbs = ckpt_callbacks(out / "checkpoints" / "last.ckpt")
    mc = next(v for k, v in cbs.items() if k.startswith("ModelCheckpoint"))
    es = next(v for k, v in cbs.items() if k.startswith("EarlyStopping"))
    assert mc["monitor"] == "poisson_val_loss" and "'mode': 'min'" in next(k for k in cbs if k.startswith("Model"))
    assert es["patience"] == 100


def test_csv_run_flags_beat_config_file_and_n_from_data(csv_run):
    """specs/torch-cli.md §3: explicit flags win over --config (batch_size, nepochs), the file wins over the
    defaults (n_filters_scale, nphotons); N comes from the data; the bundle records the bridged config."""
    out, proc = csv_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    cfg = bundle_config(out)
    assert (cfg["batch_size"], cfg["nepochs"], cfg["n_groups"]) == (16, 2, 32)
    assert cfg["nphotons"] == 1e6 and cfg["model"]["n_filters_scale"] == 1
    assert cfg["model"]["N"] == 64 and cfg["model"]["gridsize"] == 1
    assert (cfg["scheduler"], cfg["learning_rate"], cfg["backend"]) == ("Exponential", 1e-3, "pytorch")


def test_csv_run_shows_progress_when_not_quiet(csv_run):
    """specs/torch-cli.md §6, specs/torch-workflow.md §3: without --quiet the run prints its settings and, its
    stdout being a pipe, one short line per epoch (no carriage-return bar, no v_num, no step-loss copies)."""
    _, proc = csv_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout + proc.stderr
    assert "ptycho_torch.train: N=64 gridsize=1" in text and " epochs=2 " in text
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("epoch ")]
    assert [ln.split("  ")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all(" loss " in ln and " val " in ln and " elapsed " in ln and len(ln) < 100 for ln in lines)
    assert "\r" not in proc.stdout and "v_num" not in text and "_step" not in text


def test_quiet_logger_none_prints_only_the_summary(quiet_run):
    """specs/torch-cli.md §6: --quiet --logger none prints only the final line; no logs, no checkpoints
    (top-k 0 = none); gridsize 2 reaches the model."""
    out, proc = quiet_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and FINAL.match(lines[0])
    assert sorted(p.name for p in out.iterdir()) == ["wts.h5.zip"]
    cfg = bundle_config(out)
    assert cfg["model"]["gridsize"] == 2 and cfg["n_groups"] == 16 and cfg["model"]["n_filters_scale"] == 1


def test_missing_input_subprocess_one_line_exit_2(tmp_path):
    """specs/torch-cli.md §5: a missing file -> one stderr line, exit 2, no traceback, no output folder."""
    out = tmp_path / "run"
    proc = run_cli("--train_data_file", str(tmp_path / "nope.npz"), "--output_dir", str(out), "--accelerator", "cpu")
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.count("\n") == 1 and "nope.npz" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


# ------------------------------------------------------------------------------------------- in-process runs


def main(argv, capsys=None):
    from ptycho_torch.train import main as train_main

    return train_main([str(a) for a in argv])


def small(out, *extra, data=FIXTURE, cfg=None):
    args = ["--train_data_file", data, "--output_dir", out, "--n_groups", "16", "--batch_size", "16",
            "--accelerator", "cpu", "--quiet"]
    if cfg is not None:
        args += ["--config", cfg]
    return [*args, *extra]


@pytest.fixture()
def restore_determinism():
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


@pytest.mark.parametrize(
    "scheduler, epochs, extra, expected",
    [
        ("Default", 3, (), [1e-3, 1e-3, 1e-3]),
        ("MultiStage", 4, (), [1e-3, 1e-3, 1e-4, 1e-5]),  # milestones at 1/2 and 3/4 of 4 epochs
        # warm-up 0.1 lr -> lr over 1 epoch, then cosine to 0.1 lr: 0.1 + 0.45 (1 + cos(pi t)), t = 0, 1/3, 2/3
        ("WarmupCosine", 4, ("--lr-warmup-epochs", "1"), [1e-4, 1e-3, 7.75e-4, 3.25e-4]),
    ],
)
def test_scheduler_changes_logged_lr(tmp_path, nfs1, scheduler, epochs, extra, expected):
    """specs/torch-cli.md §2.2: each --scheduler gives its learning-rate sequence in metrics.csv."""
    out = tmp_path / "run"
    assert main(small(out, "--max_epochs", epochs, "--scheduler", scheduler, *extra, cfg=nfs1)) == 0
    assert lr_per_epoch(out) == pytest.approx(expected, rel=1e-6)


def test_adaptive_scheduler_halves_lr_on_plateau(tmp_path, nfs1):
    """specs/torch-cli.md §2.2: 'Adaptive' (plateau, factor 0.5, patience 2) lowers the logged learning
    rate once the loss stops improving; a too-large rate (0.05) makes it stall within 8 epochs."""
    out = tmp_path / "run"
    assert main(small(out, "--max_epochs", 8, "--scheduler", "Adaptive", "--learning-rate", "0.05",
                      "--sequential-sampling", cfg=nfs1)) == 0
    lrs = lr_per_epoch(out)
    assert lrs[0] == pytest.approx(0.05, rel=1e-6) and len(lrs) == 8
    drops = [b / a for a, b in zip(lrs, lrs[1:], strict=False) if b != a]
    assert drops and all(d == pytest.approx(0.5, rel=1e-6) for d in drops)


def test_no_deterministic_workers_and_disable_checkpointing(tmp_path, nfs1, monkeypatch, restore_determinism):
    """specs/torch-cli.md §2.2: --no-deterministic reaches the Trainer (torch's global flag stays off),
    --num-workers reaches the DataLoader, --disable-checkpointing writes no checkpoints/."""
    import torch

    from ptycho_torch.workflows import training

    seen = []
    real = training.build_dataloader

    def spy(*args, **kwargs):
        seen.append(kwargs.get("num_workers"))
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "build_dataloader", spy)
    torch.use_deterministic_algorithms(True)
    out = tmp_path / "run"
    assert main(small(out, "--max_epochs", 1, "--no-deterministic", "--num-workers", "1",
                      "--disable-checkpointing", cfg=nfs1)) == 0
    assert torch.are_deterministic_algorithms_enabled() is False
    assert seen and set(seen) == {1}
    assert not (out / "checkpoints").exists() and (out / "wts.h5.zip").is_file()
    torch.use_deterministic_algorithms(False)
    out2 = tmp_path / "run2"
    assert main(small(out2, "--max_epochs", 1, cfg=nfs1)) == 0  # default: deterministic, 0 workers
    assert torch.are_deterministic_algorithms_enabled() is True
    assert seen[-1] == 0 and (out2 / "checkpoints" / "last.ckpt").is_file()


def test_checkpoint_monitor_mode_patience_and_loss_mode(tmp_path, nfs1):
    """specs/torch-cli.md §2.2: --checkpoint-monitor/--checkpoint-mode/--early-stop-patience reach the
    callbacks; with --torch-loss-mode mae the 'val_loss' alias follows the model's loss name."""
    out = tmp_path / "run"
    assert main(small(out, "--max_epochs", 1, "--test_data_file", FIXTURE, "--checkpoint-monitor",
                      "poisson_train_loss", "--checkpoint-mode", "max", "--early-stop-patience", "3",
                      cfg=nfs1)) == 0
    cbs = ckpt_callbacks(out / "checkpoints" / "last.ckpt")
    key = next(k for k in cbs if k.startswith("ModelCheckpoint"))
    assert cbs[key]["monitor"] == "poisson_train_loss" and "'mode': 'max'" in key
    assert next(v for k, v in cbs.items() if k.startswith("EarlyStopping"))["patience"] == 3
    out2 = tmp_path / "run2"
    assert main(small(out2, "--max_epochs", 1, "--test_data_file", FIXTURE, "--torch-loss-mode", "mae",
                      cfg=nfs1)) == 0
    cbs = ckpt_callbacks(out2 / "checkpoints" / "last.ckpt")
    assert next(v for k, v in cbs.items() if k.startswith("ModelCheckpoint"))["monitor"] == "mae_val_loss"
    assert bundle_config(out2)["torch_loss_mode"] == "mae"


def test_monitor_falls_back_to_train_loss_without_validation(tmp_path, nfs1):
    """specs/torch-cli.md §2.2: no --test_data_file -> 'val_loss' resolves to the training loss name."""
    out = tmp_path / "run"
    assert main(small(out, "--max_epochs", 1, cfg=nfs1)) == 0
    cbs = ckpt_callbacks(out / "checkpoints" / "last.ckpt")
    assert next(v for k, v in cbs.items() if k.startswith("ModelCheckpoint"))["monitor"] == "poisson_train_loss"
    assert not any(k.startswith("EarlyStopping") for k in cbs)  # early stopping needs validation data


# ------------------------------------------------------------------------------------------- config level


def canonical_for(*flags):
    from ptycho_torch import train
    from ptycho_torch.cli.shared import training_configs, training_flag_values

    values = training_flag_values(train.parse_explicit(
        ["--train_data_file", "t.npz", "--output_dir", "o", "--accelerator", "cpu", *flags]))
    return training_configs(values, N=64)[0]


@pytest.mark.parametrize(
    "flags, getter, value",
    [
        (["--model_type", "supervised"], lambda c: c.model.model_type, "supervised"),
        (["--nphotons", "1e5"], lambda c: c.nphotons, 1e5),
        (["--neighbor_count", "7"], lambda c: c.neighbor_count, 7),
        (["--torch-loss-mode", "mae"], lambda c: c.torch_loss_mode, "mae"),
        (["--subsample-seed", "5"], lambda c: c.subsample_seed, 5),
        (["--sequential-sampling"], lambda c: c.sequential_sampling, True),
        (["--gridsize", "2"], lambda c: c.model.gridsize, 2),
        (["--N", "128"], lambda c: c.model.N, 128),
        (["--batch_size", "4"], lambda c: c.batch_size, 4),
        (["--max_epochs", "9"], lambda c: c.nepochs, 9),
        (["--n_groups", "24"], lambda c: c.n_groups, 24),
        (["--learning-rate", "0.004"], lambda c: c.learning_rate, 0.004),
        (["--scheduler", "Adaptive"], lambda c: c.scheduler, "Adaptive"),
        (["--test_data_file", "v.npz"], lambda c: str(c.test_data_file), "v.npz"),
        (["--output_dir", "elsewhere"], lambda c: str(c.output_dir), "elsewhere"),
    ],
)
def test_data_and_model_flags_reach_canonical_config(flags, getter, value):
    """specs/torch-cli.md §2.1: each data/model flag sets its canonical field (through the bridge)."""
    cfg = canonical_for(*flags)
    assert getter(cfg) == value
    assert getter(canonical_for()) != value
    assert cfg.backend == "pytorch"


# ------------------------------------------------------------------------------------------- bad input


def bad_npz(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"this is not a zip archive")
    return p


@pytest.mark.parametrize(
    "case, match",
    [
        ("malformed_npz", "bad.npz"),
        ("accumulate", "EXEC-ACCUM-001"),
        ("n_mismatch", "--N 128"),
        ("bad_value", "--batch-size"),
        ("bad_config", "unknown field"),
        ("no_output", "--output-dir"),
        ("cuda_missing", "no CUDA device"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, case, match):
    """specs/torch-cli.md §5: one stderr line naming the problem, exit 2, no output folder left behind."""
    import torch

    out = tmp_path / "run"
    base = ["--train_data_file", FIXTURE, "--output_dir", out, "--accelerator", "cpu"]
    if case == "malformed_npz":
        argv = ["--train_data_file", bad_npz(tmp_path), "--output_dir", out, "--accelerator", "cpu"]
    elif case == "accumulate":
        argv = [*base, "--accumulate-grad-batches", "2"]
    elif case == "n_mismatch":
        argv = [*base, "--N", "128"]
    elif case == "bad_value":
        argv = [*base, "--batch_size", "zero"]
    elif case == "bad_config":
        cfg = tmp_path / "c.json"
        cfg.write_text('{"batchsize": 3}')
        argv = [*base, "--config", cfg]
    elif case == "no_output":
        argv = ["--train_data_file", FIXTURE, "--accelerator", "cpu"]
    else:
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        argv = ["--train_data_file", FIXTURE, "--output_dir", out, "--accelerator", "cuda"]
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and match in captured.err and "Traceback" not in captured.err
    assert not out.exists()


def test_failure_during_training_rolls_back(tmp_path, capsys, monkeypatch):
    """specs/torch-cli.md §5: a run that fails after writing removes what it wrote (fresh folder removed,
    earlier contents of an existing folder kept) - except checkpoints/ once it holds last.ckpt
    (specs/reliability.md §8: the line then names the cause and the --resume command)."""
    from ptycho_torch.workflows import components

    checkpoint = {"write": False}

    def failing(train_data, test_data, config, do_stitching=False, *, execution_config=None, **kw):
        (Path(config.output_dir) / "lightning_logs").mkdir(parents=True)
        (Path(config.output_dir) / "lightning_logs" / "metrics.csv").write_text("epoch\n")
        if checkpoint["write"]:
            (Path(config.output_dir) / "checkpoints").mkdir(parents=True)
            (Path(config.output_dir) / "checkpoints" / "last.ckpt").write_bytes(b"partial")
        raise ValueError("simulated failure after writing")

    monkeypatch.setattr(components, "run_cdi_example_torch", failing)
    out = tmp_path / "run"
    assert main(["--train_data_file", FIXTURE, "--output_dir", out, "--accelerator", "cpu", "--quiet"]) == 2
    assert "simulated failure" in capsys.readouterr().err and not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["--train_data_file", FIXTURE, "--output_dir", out, "--accelerator", "cpu", "--quiet"]) == 2
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    checkpoint["write"] = True
    capsys.readouterr()
    assert main(["--train_data_file", FIXTURE, "--output_dir", out, "--accelerator", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stopped: simulated failure after writing; checkpoints kept in" in err[0], err
    assert err[0].endswith(" --quiet --resume")
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "notes.txt"]


# ------------------------------------------------------------------------------------------- optional loggers


def test_tensorboard_logger_writes_event_file(tmp_path, nfs1):
    """specs/torch-cli.md §2.5: --logger tensorboard writes lightning_logs/version_0/events.out.tfevents.*."""
    pytest.importorskip("tensorboard")
    out = tmp_path / "run"
    assert main(small(out, "--max_epochs", 1, "--logger", "tensorboard", cfg=nfs1)) == 0
    events = list((out / "lightning_logs" / "version_0").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    assert not (out / "lightning_logs" / "version_0" / "metrics.csv").exists()


def _mlflow_metrics(tracking_uri: str) -> dict[str, list[float]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name("PtychoPINN")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    return {k: [m.value for m in client.get_metric_history(runs[0].info.run_id, k)] for k in runs[0].data.metrics}


def test_mlflow_logger_local_store_read_back(tmp_path, nfs1, monkeypatch):
    """specs/torch-cli.md §2.5: --logger mlflow without MLFLOW_TRACKING_URI logs to <output_dir>/mlruns;
    the run is read back with the MLflow client: losses and the learning rate of both epochs."""
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    out = tmp_path / "run"
    assert main(small(out, "--max_epochs", 2, "--logger", "mlflow", "--scheduler", "Exponential", cfg=nfs1)) == 0
    metrics = _mlflow_metrics(f"file:{out / 'mlruns'}")
    assert metrics["lr"] == pytest.approx([1e-3, 0.95e-3], rel=1e-6)
    assert len(metrics["poisson_train_loss_epoch"]) == 2


def test_mlflow_logger_honours_tracking_uri(tmp_path, nfs1, monkeypatch):
    """specs/torch-cli.md §2.5: with MLFLOW_TRACKING_URI set, the run goes to that store instead."""
    pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out = tmp_path / "run"
    assert main(small(out, "--max_epochs", 1, "--logger", "mlflow", cfg=nfs1)) == 0
    assert "lr" in _mlflow_metrics(uri) and not (out / "mlruns").exists()


def test_a_budget_alone_trains_until_it_and_the_log_says_so(tmp_path, capsys):
    """specs/config.md §3, specs/torch-cli.md §2: --max-time without --max-epochs trains until the budget
    (nepochs None in the bundle's config, no placeholder epoch count anywhere in the log); in a pipe the log has
    one short line per epoch."""
    out = tmp_path / "run"
    argv = [a for a in small(out, "--max-time", "00:00:00:03", "--n_filters_scale", "1") if a != "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert " until max_time=00:00:00:03 " in text and "epochs=" not in text and "100000" not in text
    lines = [ln for ln in text.splitlines() if ln.startswith("epoch ")]
    assert lines and all(len(ln) < 100 and "/" not in ln.split()[1] for ln in lines)
    assert bundle_config(out)["nepochs"] is None and bundle_config(out)["max_time"] == "00:00:00:03"
