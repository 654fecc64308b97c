"""Side-by-side patch grids of a TensorFlow and a PyTorch run, aligned by sample id (specs/parity.md §6).

    python scripts/patch_parity.py --tf-npz tmp/tf_epoch50_patches.npz \
        --torch-npz tmp/torch_epoch50_patches.npz --epoch 50 --num-patches 6 [--out-dir tmp/patch_parity]

Input NPZ (one per backend): ``patches`` (P, N, N) or (P, N, N, 1) complex object patches (a real array is
taken as amplitude with zero phase) and ``sample_indices`` (P,) integer ids of the scan positions / groups
those patches belong to (the persisted ``sample_indices``). Patches are matched by id, in the TF file's
order; the first ``--num-patches`` shared ids are drawn.

Writes (atomically) ``tensorflow_epoch{E}.png`` and ``pytorch_epoch{E}.png`` (amplitude row over phase row,
one column per id) and ``side_by_side_epoch{E}.png`` (rows: TF amplitude, Torch amplitude, |difference|,
TF phase, Torch phase), and prints the per-id max |difference|. Bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """A bad input file (message is one line naming the file, key, expected and found)."""


def load_patches(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids (P,) int64, patches (P, N, N) complex128) from a patch NPZ; raises InputError."""
    if not path.is_file():
        raise InputError(f"{path}: expected an existing .npz file, found nothing")
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error
        raise InputError(f"{path}: expected a readable .npz file, found {type(exc).__name__}: {exc}") from None
    with npz:
        for key in ("patches", "sample_indices"):
            if key not in npz.files:
                raise InputError(f"{path}: key '{key}': expected it in the file, found keys {sorted(npz.files)}")
        patches, ids = np.asarray(npz["patches"]), np.asarray(npz["sample_indices"])
    if patches.ndim == 4 and patches.shape[-1] == 1:
        patches = patches[..., 0]
    if patches.ndim != 3 or patches.shape[1] != patches.shape[2]:
        raise InputError(f"{path}: key 'patches': expected shape (P, N, N) or (P, N, N, 1), found {patches.shape}")
    if ids.ndim != 1 or ids.shape[0] != patches.shape[0] or not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"{path}: key 'sample_indices': expected ({patches.shape[0]},) integers, "
                         f"found {ids.shape} {ids.dtype}")
    if len(np.unique(ids)) != len(ids):
        raise InputError(f"{path}: key 'sample_indices': expected unique ids, found duplicates")
    if not np.all(np.isfinite(patches)):
        raise InputError(f"{path}: key 'patches': expected finite values, found NaN/inf")
    return ids.astype(np.int64), patches.astype(np.complex128)


def align(tf_ids, tf_patches, torch_ids, torch_patches, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``k`` ids present in both runs (TF order) and the matching (k, N, N) patches of each."""
    where = {int(i): j for j, i in enumerate(torch_ids)}
    shared = [(j, where[int(i)]) for j, i in enumerate(tf_ids) if int(i) in where][:k]
    if not shared:
        raise InputError("sample_indices: expected ids shared by the TF and Torch files, found none")
    if tf_patches.shape[1:] != torch_patches.shape[1:]:
        raise InputError(f"patches: expected equal patch shapes, found TF {tf_patches.shape[1:]} and "
                         f"Torch {torch_patches.shape[1:]}")
    a, b = (np.array(v) for v in zip(*shared, strict=True))
    return tf_ids[a], tf_patches[a], torch_patches[b]


def _grid(rows: list[tuple[str, np.ndarray, str]], ids: np.ndarray, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows, n_cols = len(rows), len(ids)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.8 * n_cols + 0.6, 1.8 * n_rows + 0.4), squeeze=False)
    for r, (label, images, cmap) in enumerate(rows):
        lo, hi = float(np.min(images)), float(np.max(images))
        for c in range(n_cols):
            ax = axes[r][c]
            ax.imshow(images[c], cmap=cmap, vmin=lo, vmax=hi if hi > lo else lo + 1e-12)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"id {int(ids[c])}", fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def write_grids(out_dir: Path, epoch: int, ids, tf_p, torch_p) -> list[Path]:
    """Write the three PNGs; returns their paths."""
    from ptycho.atomic_io import atomic_write

    diff = np.abs(tf_p - torch_p)
    figures = {
        f"tensorflow_epoch{epoch}.png": _grid([("TF |O|", np.abs(tf_p), "gray"), ("TF arg O", np.angle(tf_p), "twilight")],
                                              ids, f"TensorFlow, epoch {epoch}"),
        f"pytorch_epoch{epoch}.png": _grid([("Torch |O|", np.abs(torch_p), "gray"),
                                            ("Torch arg O", np.angle(torch_p), "twilight")], ids, f"PyTorch, epoch {epoch}"),
        f"side_by_side_epoch{epoch}.png": _grid(
            [("TF |O|", np.abs(tf_p), "gray"), ("Torch |O|", np.abs(torch_p), "gray"), ("|O_tf - O_torch|", diff, "magma"),
             ("TF arg O", np.angle(tf_p), "twilight"), ("Torch arg O", np.angle(torch_p), "twilight")],
            ids, f"TF vs PyTorch patches, epoch {epoch}"),
    }
    paths = []
    for name, data in figures.items():
        path = out_dir / name
        with atomic_write(path, "wb") as fh:
            fh.write(data)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Side-by-side TF / PyTorch patch grids aligned by sample id.")
    ap.add_argument("--tf-npz", type=Path, required=True, help="TF patches: keys patches, sample_indices")
    ap.add_argument("--torch-npz", type=Path, required=True, help="PyTorch patches: keys patches, sample_indices")
    ap.add_argument("--epoch", type=int, required=True, help="epoch number used in the file names")
    ap.add_argument("--num-patches", type=int, default=6, help="number of shared ids to draw (default 6)")
    ap.add_argument("--out-dir", type=Path, default=Path("tmp/patch_parity"), help="default tmp/patch_parity")
    args = ap.parse_args(argv)
    try:
        if args.num_patches < 1:
            raise InputError(f"--num-patches: expected an integer >= 1, found {args.num_patches}")
        if args.epoch < 0:
            raise InputError(f"--epoch: expected an integer >= 0, found {args.epoch}")
        tf_ids, tf_p = load_patches(args.tf_npz)
        t_ids, t_p = load_patches(args.torch_npz)
        ids, a, b = align(tf_ids, tf_p, t_ids, t_p, args.num_patches)
    except InputError as exc:
        print(f"patch_parity: {exc}", file=sys.stderr)
        return 2
    paths = write_grids(args.out_dir, args.epoch, ids, a, b)
    print("sample id | max |O_tf - O_torch| | max |O_tf|")
    for i, x, y in zip(ids, a, b, strict=True):
        print(f"{int(i):9d} | {float(np.max(np.abs(x - y))):.3e} | {float(np.max(np.abs(x))):.3e}")
    for p in paths:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
