"""``ptycho train`` / ``infer`` dispatch through the chosen backend's ``Backend`` object (specs/cli.md §3-§4,
specs/architecture.md §3): the command calls only the protocol's methods, once per command, for both routes
(the backend's own command line; the explicit methods), and the real backends answer through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ptycho.config.config import InferenceConfig, ModelConfig, TrainingConfig
from ptycho_bridge import backend_selector
from ptycho_bridge.backend_api import Backend, Reconstruction
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_cli.main import main

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"


class _RecordingCommandLine:
    def __init__(self, calls: list) -> None:
        self.calls = calls

    def train(self, config, execution, *, resume=None, prog, command=None) -> int:
        self.calls.append(("command_line.train", config, execution, resume, prog))
        return 4  # passed through as the exit status

    def infer(self, models, config, execution, *, prog) -> int:
        self.calls.append(("command_line.infer", models, config, execution, prog))
        return 3  # passed through as the exit status


class _RecordingBackend:
    """A Backend whose methods record their calls; the explicit methods return small real values."""

    def __init__(self, name: str, with_command_line: bool) -> None:
        self.name = name
        self.calls: list = []
        self.command_line = _RecordingCommandLine(self.calls) if with_command_line else None

    def unsupported(self, config: Any) -> str | None:
        self.calls.append(("unsupported",))
        return None

    def train(self, train_data, test_data, config, **kw):
        self.calls.append(("train", config.nepochs, config.backend, sorted(kw)))
        return None, None, {"history": {"train_loss": [2.0, 1.0], "val_loss": [3.0, 2.5]}}

    def save_bundle(self, results, config) -> Path:
        self.calls.append(("save_bundle",))
        path = Path(config.output_dir) / "wts.h5.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"bundle")
        return path

    def load_bundle(self, path):
        self.calls.append(("load_bundle", Path(path).name))
        return "models", TrainingConfig(model=ModelConfig(N=64), batch_size=4)

    def reconstruct(self, models, data, config, *, M=20, execution=None) -> Reconstruction:
        self.calls.append(("reconstruct", models, M, config.n_groups))
        obj = np.full((40, 40), 2.0 * np.exp(0.5j), np.complex64)
        offsets = np.zeros((len(data.diff3d), 1, 2, 1))
        return Reconstruction(object=obj, amplitude=np.abs(obj), phase=np.angle(obj), global_offsets=offsets,
                              crop=M, results={})

    def run_cdi_example(self, *a, **k):
        raise AssertionError("the ptycho command does not use the compatibility API")

    def load_inference_bundle(self, *a, **k):
        raise AssertionError("the ptycho command does not use the compatibility API")


def _install(monkeypatch, backend: _RecordingBackend) -> list[str]:
    loaded: list[str] = []
    monkeypatch.setattr(backend_selector, "available_backends", lambda: (backend.name,))
    monkeypatch.setattr(backend_selector, "load_backend", lambda name: loaded.append(name) or backend)
    return loaded


def test_recording_backend_satisfies_the_protocol():
    assert isinstance(_RecordingBackend("tensorflow", False), Backend)
    assert isinstance(_RecordingBackend("pytorch", True), Backend)


def test_train_and_infer_use_the_explicit_methods_of_a_backend_without_a_command_line(tmp_path, monkeypatch):
    backend = _RecordingBackend("tensorflow", with_command_line=False)
    loaded = _install(monkeypatch, backend)
    run = tmp_path / "run"
    assert main(["train", "--train_data_file", str(FIXTURE), "--output_dir", str(run), "--max_epochs", "2",
                 "--quiet"]) == 0
    assert backend.calls == [("unsupported",), ("train", 2, "tensorflow",
                                                ["M", "checkpoints", "do_stitching", "progress", "resume_from"]),
                             ("save_bundle",)]
    assert (run / "wts.h5.zip").read_bytes() == b"bundle" and (run / "history.json").is_file()
    backend.calls.clear()
    out = tmp_path / "inf"
    assert main(["infer", "--model_path", str(run), "--test_data", str(FIXTURE), "--output_dir", str(out),
                 "--quiet"]) == 0
    assert backend.calls == [("load_bundle", "run"), ("reconstruct", "models", 20, None)]
    written = np.load(out / "reconstructed_object.npz")
    np.testing.assert_allclose(written["object"], np.full((40, 40), 2.0 * np.exp(0.5j)), rtol=1e-6)
    assert (out / "reconstructed_amplitude.png").is_file() and (out / "reconstructed_phase.png").is_file()
    assert loaded == ["tensorflow", "tensorflow"]


def test_train_and_infer_hand_a_backends_own_command_line_its_values(tmp_path, monkeypatch):
    """specs/cli.md §4: train hands the backend's run the configs of the flags (no argv, no values keyed by
    another command's names); infer the models ``load_bundle`` read and the configs of the flags over the
    bundle's stored config."""
    backend = _RecordingBackend("pytorch", with_command_line=True)
    loaded = _install(monkeypatch, backend)
    assert main(["train", "--train_data_file", str(FIXTURE), "--output_dir", str(tmp_path / "o"), "--seed", "7",
                 "--accelerator", "cpu", "--resume"]) == 4
    [(what, config, execution, resume, prog)] = backend.calls
    assert (what, resume, prog) == ("command_line.train", True, "ptycho train")
    assert (str(config.train_data_file), str(config.output_dir), config.subsample_seed) == (
        str(FIXTURE), str(tmp_path / "o"), 7)
    assert (config.backend, config.model.N, config.model.n_filters_scale, config.model.input_refine_passes,
            config.teacher) == ("pytorch", 64, 1, 5, "refine")
    assert (execution.accelerator, execution.enable_progress_bar) == ("cpu", True)
    backend.calls.clear()
    assert main(["infer", "--model_path", str(tmp_path), "--test_data", str(FIXTURE), "--output_dir",
                 str(tmp_path / "i"), "--n-groups", "6", "--accelerator", "cpu", "--quiet"]) == 3
    [load, (what, models, config, execution, prog)] = backend.calls
    assert load == ("load_bundle", tmp_path.name)
    assert (what, models, prog) == ("command_line.infer", "models", "ptycho infer")
    assert config == InferenceConfig(model=ModelConfig(N=64), model_path=tmp_path, test_data_file=FIXTURE,
                                     output_dir=tmp_path / "i", n_groups=6, backend="pytorch")
    assert execution == PyTorchExecutionConfig(accelerator="cpu", inference_batch_size=4, enable_progress_bar=False)
    assert loaded == ["pytorch", "pytorch"]


def test_a_deprecated_train_flag_is_one_line_and_still_applies(tmp_path, monkeypatch, capsys):
    """specs/cli.md §4: ``--n-images`` (the deprecated alias of ``--n-groups``) prints one DeprecationWarning line
    under the command's name, every time, and sets n_groups in the configs the backend's run gets."""
    backend = _RecordingBackend("pytorch", with_command_line=True)
    _install(monkeypatch, backend)
    argv = ["train", "--train_data_file", str(FIXTURE), "--output_dir", str(tmp_path / "o"), "--n-images", "5"]
    for _ in range(2):
        assert main(argv) == 4
        lines = [ln for ln in capsys.readouterr().err.splitlines() if "DeprecationWarning" in ln]
        assert lines == ["ptycho train: DeprecationWarning: --n-images is deprecated; use --n-groups"]
    assert [call[1].n_groups for call in backend.calls] == [5, 5]


@pytest.mark.parametrize("name", ["pytorch", "tensorflow"])
def test_real_backends_train_and_infer_through_the_cli(tmp_path, monkeypatch, name):
    """Both real backends, through ``ptycho train`` / ``infer``: the object the command writes equals what the
    backend's own explicit methods reconstruct from the bundle it wrote."""
    real = backend_selector.load_backend
    loaded: list[str] = []
    monkeypatch.setattr(backend_selector, "load_backend", lambda b: loaded.append(b) or real(b))
    run, out = tmp_path / "run", tmp_path / "inf"
    assert main(["train", "--backend", name, "--train_data_file", str(FIXTURE), "--output_dir", str(run),
                 "--max_epochs", "1", "--n_groups", "8", "--batch_size", "4", "--quiet"]) == 0
    assert main(["infer", "--model_path", str(run), "--test_data", str(FIXTURE), "--output_dir", str(out),
                 "--quiet"]) == 0
    assert loaded == [name, name]
    backend = real(name)
    models, config = backend.load_bundle(run)
    config.n_groups = None
    from ptycho.raw_data import RawData

    expected = backend.reconstruct(models, RawData.from_file(FIXTURE), config, M=20)
    written = np.load(out / "reconstructed_object.npz")["object"]
    assert written.shape == expected.object.shape and np.abs(expected.object).max() > 0
    np.testing.assert_allclose(written, expected.object, rtol=1e-5, atol=1e-6)


def test_pytorch_only_infer_flags_are_refused_by_a_backend_without_a_command_line(tmp_path, monkeypatch, capsys):
    """specs/cli.md §4: ``--accelerator`` / ``--num-workers`` / ``--precision`` are PyTorch only: with the
    TensorFlow route they are one line and exit 2, before the bundle is read."""
    backend = _RecordingBackend("tensorflow", with_command_line=False)
    _install(monkeypatch, backend)
    capsys.readouterr()
    assert main(["infer", "--model_path", str(tmp_path), "--test_data", str(FIXTURE), "--output_dir",
                 str(tmp_path / "i"), "--accelerator", "cpu", "--precision", "bf16-mixed"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["ptycho infer: error: --accelerator, --precision: PyTorch-only settings need --backend pytorch, "
                   "found tensorflow"]
    assert backend.calls == [] and not (tmp_path / "i").exists()
