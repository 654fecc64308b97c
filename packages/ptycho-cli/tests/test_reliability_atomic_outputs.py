"""Every file writer of the project is atomic (specs/reliability.md §3): each writer runs in a subprocess over
an existing target and is SIGKILLed either in the middle of writing its bytes or just before the rename;
the target must still hold the old bytes. A writer that bypassed ``ptycho.atomic_io`` would never reach the
kill points and the test would fail on its exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts" / "tests" / "fixtures" / "minimal_dataset_v1.npz"

HARNESS = textwrap.dedent(
    r'''
    import os, signal, sys
    from pathlib import Path
    import numpy as np
    mode, d, target = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    FIXTURE = sys.argv[4]
    real_replace, real_link, real_fdopen = os.replace, os.link, os.fdopen

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def replace(src, dst, *a, **k):
        if mode == "rename" and Path(dst) == target:
            die()
        return real_replace(src, dst, *a, **k)

    class HalfWriter:
        """Writes half of the first sizeable chunk, flushes it to disk, then dies."""
        def __init__(self, f):
            self._f = f
        def write(self, data):
            if len(data) > 1:
                self._f.write(data[: len(data) // 2])
                self._f.flush()
                os.fsync(self._f.fileno())
                die()
            return self._f.write(data)
        def __getattr__(self, name):
            return getattr(self._f, name)
        def __iter__(self):
            return iter(self._f)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self._f.__exit__(*exc)

    def fdopen(fd, *a, **k):
        f = real_fdopen(fd, *a, **k)
        return HalfWriter(f) if mode == "write" else f

    os.replace, os.fdopen = replace, fdopen
    amp = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    exec(sys.stdin.read())
    print("WRITER RETURNED WITHOUT REACHING A KILL POINT")
    '''
)

WRITERS = {
    "npz (ptycho.atomic_io.save_npz_atomic)": ("out.npz", "from ptycho.atomic_io import save_npz_atomic\n"
                                                            "save_npz_atomic(target, a=np.arange(50000))"),
    "json (save_json_atomic)": ("m.json", "from ptycho.atomic_io import save_json_atomic\n"
                                          "save_json_atomic(target, {'x': list(range(2000))})"),
    "scan NPZ (RawData.to_file)": ("scan.npz", "from ptycho.raw_data import RawData\n"
                                              "RawData.from_file(FIXTURE).to_file(target)"),
    "torch bundle (save_torch_bundle)": (
        "wts.h5.zip", "import torch\nfrom ptycho_torch.bundle import save_torch_bundle\n"
        "save_torch_bundle(target, state_dict={'w': torch.ones(5000)}, config_dict={}, "
        "probe=np.ones((8, 8), np.complex64), intensity_scale=2.0)"),
    "torch checkpoint (AtomicCheckpointIO)": (
        "last.ckpt", "import torch\nfrom ptycho_torch.workflows.checkpoints import AtomicCheckpointIO\n"
        "AtomicCheckpointIO().save_checkpoint({'state_dict': {'w': torch.ones(5000)}}, target)"),
    "reconstruction PNG (ptycho_torch.export)": (
        "reconstructed_amplitude.png", "from ptycho_torch.export import save_reconstruction_pngs\n"
        "save_reconstruction_pngs(amp, amp, d)"),
    "inference NPZ (ptycho_torch.export.save_outputs)": (
        "reconstruction.npz", "from ptycho.atomic_io import save_npz_atomic\nimport ptycho_torch.export as ex\n"
        "ex.save_reconstruction_pngs = lambda *a: (d / 'a.png', d / 'p.png')\n"
        "ex.save_outputs(amp, amp, None, d)"),
    # Lightning deletes a stale metrics.csv when a logger (re)opens a run folder, so the "old file" here is
    # the run's own first flush (kill points off), saved aside as <target>.before; the second flush is killed.
    "metrics CSV (ptycho_torch CSV logger)": (
        "lightning_logs/version_0/metrics.csv",
        "from ptycho_torch.workflows.loggers import make_logger\n"
        "armed, mode = mode, 'off'\n"
        "w = make_logger('csv', d).experiment\nw.log_metrics({'loss': 1.5}, 0)\nw.save()\n"
        "target.with_name(target.name + '.before').write_bytes(target.read_bytes())\n"
        "mode = armed\nw.log_metrics({'loss': 1.25, 'lr': 0.001}, 1)\nw.save()"),
    "history JSON (ptycho_cli.outputs.write_history)": (
        "history.json", "from ptycho_cli.outputs import write_history\n"
        "write_history(d, {'train_loss': [3.0, 2.0], 'val_loss': [1.0, 0.5]})"),
    "figure PNG (ptycho_cli.figures)": (
        "fig.png", "from ptycho_cli.figures import plot_amplitude_phase\nplot_amplitude_phase(amp, amp, target)"),
}


_TF_MODELS = ("from ptycho.config.config import ModelConfig, TrainingConfig\n"
              "from ptycho_tf.network import build_models\n"
              "mc = ModelConfig(N=64, gridsize=1, n_filters_scale=1)\n"
              "models = build_models(mc, intensity_scale=10.0, seed=0)\n")
#: TensorFlow writers (slow: each subprocess imports TensorFlow).
TF_WRITERS = {
    "tf bundle (ptycho_tf.bundle.save_bundle)": (
        "wts.h5.zip", _TF_MODELS + "from ptycho_tf.bundle import save_bundle\n"
        "save_bundle(target, models, TrainingConfig(model=mc))"),
    "tf checkpoint (ptycho_tf.training.save_checkpoint)": (
        "last.ckpt", _TF_MODELS + "from ptycho_tf import training\n"
        "training.compile_models(models, TrainingConfig(model=mc))\n"
        "training.save_checkpoint(target, models, {'epochs_done': 1})"),
    "tf PNGs (ptycho.workflows.components.save_outputs)": (
        "reconstructed_amplitude.png", "from ptycho.workflows.components import save_outputs\n"
        "save_outputs(amp, amp, {}, d)"),
}
_CASES = [pytest.param(k, id=k) for k in sorted(WRITERS)] + [
    pytest.param(k, id=k, marks=pytest.mark.slow) for k in sorted(TF_WRITERS)]


@pytest.mark.parametrize("mode", ["write", pytest.param("rename", marks=pytest.mark.slow)])
@pytest.mark.parametrize("writer", _CASES)
def test_writer_killed_mid_write_leaves_old_file(tmp_path, writer, mode):
    name, code = {**WRITERS, **TF_WRITERS}[writer]
    target = tmp_path / name
    old = b"OLD,CONTENT\n1,2\n" * 100
    if "CSV" not in writer:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(old)
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(script), mode, str(tmp_path), str(target), str(FIXTURE)], input=code,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == -signal.SIGKILL, (proc.stdout + proc.stderr)[-2000:]
    before = target.with_name(target.name + ".before")
    assert target.read_bytes() == (before.read_bytes() if before.exists() else old)
