"""scripts/patch_parity.py: alignment by persisted sample id, the PNG grids, one-line errors
(specs/parity.md §6)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "patch_parity.py"


def _module():
    spec = importlib.util.spec_from_file_location("patch_parity_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(path, ids, n=16, scale=1.0):
    # patch of id i: constant amplitude i (x scale) and phase 0.1 i -> identifies the id after alignment
    ids = np.asarray(ids)
    patches = (ids[:, None, None] * scale * np.exp(0.1j * ids[:, None, None]) * np.ones((1, n, n))).astype(np.complex64)
    np.savez(path, patches=patches[..., None], sample_indices=ids)


def test_alignment_by_sample_id(tmp_path):
    mod = _module()
    _write(tmp_path / "tf.npz", [5, 3, 9, 1, 8])
    _write(tmp_path / "pt.npz", [9, 1, 5, 7, 4, 3])
    ti, tp = mod.load_patches(tmp_path / "tf.npz")
    pi, pp = mod.load_patches(tmp_path / "pt.npz")
    ids, a, b = mod.align(ti, tp, pi, pp, 3)
    assert ids.tolist() == [5, 3, 9]  # shared ids in TF order, first 3
    np.testing.assert_allclose(np.abs(a[:, 0, 0]), [5, 3, 9], rtol=1e-6)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_writes_three_pngs(tmp_path, capsys):
    from PIL import Image

    mod = _module()
    _write(tmp_path / "tf.npz", [0, 1, 2, 3])
    _write(tmp_path / "pt.npz", [3, 2, 1, 0], scale=1.01)
    out = tmp_path / "grids"
    rc = mod.main(["--tf-npz", str(tmp_path / "tf.npz"), "--torch-npz", str(tmp_path / "pt.npz"), "--epoch", "50",
                   "--num-patches", "3", "--out-dir", str(out)])
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["pytorch_epoch50.png", "side_by_side_epoch50.png", "tensorflow_epoch50.png"]
    with Image.open(out / "side_by_side_epoch50.png") as im:
        side = im.size
    with Image.open(out / "tensorflow_epoch50.png") as im:
        single = im.size
    assert side[1] > single[1]  # five rows vs two
    text = capsys.readouterr().out
    assert "        2 | 2.000e-02" in text  # |2 - 2.02| for id 2


@pytest.mark.parametrize("bad, message", [
    ({"patches": np.zeros((2, 8, 8))}, "key 'sample_indices': expected it in the file"),
    ({"patches": np.zeros((2, 8, 8)), "sample_indices": np.array([1, 1])}, "expected unique ids"),
    ({"patches": np.zeros((2, 8, 6)), "sample_indices": np.array([1, 2])}, "expected shape (P, N, N)"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, bad, message):
    mod = _module()
    np.savez(tmp_path / "bad.npz", **bad)
    _write(tmp_path / "ok.npz", [1, 2])
    rc = mod.main(["--tf-npz", str(tmp_path / "bad.npz"), "--torch-npz", str(tmp_path / "ok.npz"), "--epoch", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1


def test_no_shared_ids(tmp_path, capsys):
    mod = _module()
    _write(tmp_path / "a.npz", [1, 2])
    _write(tmp_path / "b.npz", [3, 4])
    rc = mod.main(["--tf-npz", str(tmp_path / "a.npz"), "--torch-npz", str(tmp_path / "b.npz"), "--epoch", "1",
                   "--out-dir", str(tmp_path / "o")])
    assert rc == 2 and "shared by the TF and Torch files, found none" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
