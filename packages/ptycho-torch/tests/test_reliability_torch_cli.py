"""``python -m ptycho_torch.train --resume`` and the CLI side of the NaN guard (specs/reliability.md §1, §2;
specs/torch-cli.md). In-process ``main(argv)`` runs on the 64-position fixture, N=64, n_filters_scale 1."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


def _args(out: Path, cfg: Path, epochs: int, *extra: str) -> list[str]:
    return ["--train_data_file", str(FIXTURE), "--output_dir", str(out), "--config", str(cfg), "--n_groups", "16",
            "--batch_size", "8", "--max_epochs", str(epochs), "--accelerator", "cpu", "--logger", "none", "--quiet",
            "--scheduler", "Exponential", "--subsample-seed", "5", *extra]


def _bundle_weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    with zipfile.ZipFile(out / "wts.h5.zip") as zf:
        return load(zf.read("weights.safetensors"))


@pytest.fixture()
def cfg(tmp_path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text("model:\n  n_filters_scale: 1\n")
    return p


def test_resume_without_checkpoint_is_a_one_line_error(tmp_path, cfg, capsys):
    """--resume with no checkpoints/last.ckpt: exit 2, one stderr line naming the missing file."""
    from ptycho_torch.train import main

    rc = main(_args(tmp_path / "none", cfg, 1, "--resume"))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "last.ckpt" in err[0] and "--resume" in err[0], err


def test_resume_continues_to_the_same_weights(tmp_path, cfg, capsys, monkeypatch):
    """§1: 1 epoch, then --resume to 2 epochs == 2 uninterrupted epochs (bitwise bundle weights); the
    resumed run trains only the missing epoch (2 steps, not 4)."""
    from ptycho_torch.lightning_module import PtychoPINN_Lightning
    from ptycho_torch.train import main

    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(_args(ref, cfg, 2)) == 0
    assert main(_args(run, cfg, 1)) == 0
    steps: list[int] = []
    original = PtychoPINN_Lightning.training_step
    monkeypatch.setattr(PtychoPINN_Lightning, "training_step",
                        lambda self, batch, i: steps.append(i) or original(self, batch, i))
    assert main(_args(run, cfg, 2, "--resume")) == 0, capsys.readouterr().err
    assert steps == [0, 1]
    a, b = _bundle_weights(ref), _bundle_weights(run)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_damaged_checkpoint_is_a_one_line_error(tmp_path, cfg, capsys):
    """§3/§4: a truncated last.ckpt given to --resume: exit 2, one line, nothing executed or written."""
    from ptycho_torch.train import main

    out = tmp_path / "dmg"
    (out / "checkpoints").mkdir(parents=True)
    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(1000)}, "loops": {}}, buf)
    (out / "checkpoints" / "last.ckpt").write_bytes(buf.getvalue()[:300])
    rc = main(_args(out, cfg, 1, "--resume"))
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "not a loadable checkpoint" in err[0], err
    assert not (out / "wts.h5.zip").exists()


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))


def _load_guarded(path: Path) -> None:
    """load_config_file under a 20 s watchdog and a 64 MiB allocation bound: success or ValueError only."""
    import signal
    import tracemalloc

    from ptycho_bridge.config_file import load_config_file

    def alarm(signum, frame):
        raise AssertionError("load_config_file hung")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    tracemalloc.start()
    try:
        try:
            load_config_file(path)
        except ValueError as exc:
            assert "\n" not in str(exc).strip()
        assert tracemalloc.get_traced_memory()[1] < 64 * 1024 * 1024
    finally:
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_config_file_yaml_alias_bomb_is_bounded(tmp_path):
    """specs/reliability.md §5: a 'billion laughs' YAML (9^9 leaves by aliases) fails fast with a ValueError."""
    p = tmp_path / "bomb.yaml"
    p.write_text(BILLION_LAUGHS)
    _load_guarded(p)


_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                                 st.text(max_size=6)),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                  max_size=3), max_leaves=8)
_KEYS = st.sampled_from(["batch_size", "nepochs", "learning_rate", "model", "N", "gridsize", "nphotons",
                         "config_type", "scheduler", "n_filters_scale", "output_dir", "probe_scale", "junk"])


@settings(max_examples=60, deadline=None)
@given(doc=st.dictionaries(_KEYS, _VALUES, max_size=5) | _VALUES, as_json=st.booleans(),
       garbage=st.binary(max_size=40))
def test_fuzzed_config_files_raise_value_error_only(doc, as_json, garbage):
    """Malformed --config files (wrong types, NaN, huge numbers, nested junk, bad syntax, binary bytes):
    load_config_file returns or raises a one-line ValueError (ConfigFileError), nothing else."""
    import json
    import tempfile

    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / ("c.json" if as_json else "c.yaml")
        try:
            text = json.dumps(doc) if as_json else yaml.safe_dump(doc)
        except (ValueError, yaml.YAMLError):
            text = "{"
        p.write_bytes(text.encode() + (garbage if len(garbage) % 3 == 0 else b""))
        _load_guarded(p)


def test_nan_in_cli_run_keeps_checkpoints_for_resume(tmp_path, cfg, capsys, monkeypatch):
    """§2: a loss that turns NaN in epoch 1 -> exit 1, one stderr line naming epoch 1; the rollback removes the
    run's other outputs but keeps checkpoints/last.ckpt (finite, epoch-0 end state); no bundle is written."""
    from ptycho_torch.lightning_module import PtychoPINN_Lightning
    from ptycho_torch.train import main
    from ptycho_torch.workflows.components import load_checkpoint_safely

    original = PtychoPINN_Lightning.compute_loss

    def poisoned(self, batch):
        loss, metrics = original(self, batch)
        return (loss * float("nan") if self.global_step >= 2 else loss), metrics

    monkeypatch.setattr(PtychoPINN_Lightning, "compute_loss", poisoned)
    out = tmp_path / "nan"
    argv = _args(out, cfg, 3)
    argv[argv.index("--logger") + 1] = "csv"  # a logger output that the rollback must remove
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "non-finite training loss (nan) at epoch 1, step 0" in err[0], err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"]
    ckpt = load_checkpoint_safely(out / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 2 and all(torch.isfinite(v).all() for v in ckpt["state_dict"].values()
                                            if v.is_floating_point())
