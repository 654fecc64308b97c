"""Side by side with the original PtychoPINN PyTorch backend: training and inference patterns/s (issue 19).

Usage (the original installed in ANOTHER environment; it is never vendored into this repository):

    OMP_NUM_THREADS=2 python benchmarks/side_by_side.py \\
        --original-python /path/to/venv_orig/bin/python --original-path /path/to/orig_src [--repeats 3]

``--original-path`` is the directory that holds the original's ``ptycho_torch`` package (the public
github.com/hoidn/PtychoPINN repository's PyTorch backend); it becomes the only PYTHONPATH entry of the original's
subprocesses, and each of them checks that ``ptycho_torch`` was imported from there. Without
``--original-python`` the script exits with status 2 and a one-line message.

For gridsize 1 and 2 at N=64, batch 16, ``torch.set_num_threads(2)``, on the same synthetic random diffraction
amplitudes and the same scan offsets (grouped once by this backend and handed to both as arrays), each case runs
in a fresh subprocess and measures

* training patterns/s of bare optimizer steps: each package's own loss (forward, physics, Poisson NLL),
  backward and its own ``configure_optimizers`` Adam, after ``--warmup-steps`` (8) warm-up steps: our
  backend's first few steps from its Keras-like initialisation run up to ~2.5x slower on CPU (denormal floats;
  they vanish with ``torch.set_flush_denormal(True)``, offered here as ``--flush-denormal`` for both sides);
* training patterns/s through each package's ``LightningModule.training_step`` in one ``lightning`` Trainer
  configuration (CPU, no logger, no checkpoints, no progress bar): epoch 1 is warm-up, epoch 2 is timed
  (one interval = from a batch's ``on_train_batch_start`` to the next one's, or to the epoch's end);
* inference patterns/s of the network forward under ``torch.inference_mode`` (diffraction -> complex object
  patches: ours ``run_generator`` + ``object_patches``, the original's ``PtychoPINN_Lightning.forward_predict``);
  our full ``predict_step`` (network + physics + trimmed object) is reported alongside (3 passes);
* each measurement keeps its per-batch times (``--json`` writes every case); the report gives, per gridsize and
  side, the BEST batch (minimum time over all timed batches of all repeats: what the code does when it has the
  CPU, the robust estimator on a shared machine whose load only ever slows a batch down) and the median over the
  repeats of each case's median batch;
* parameter counts and FLOPs per batch (``torch.utils.flop_counter.FlopCounterMode``: one training
  forward+backward, one inference forward), and the float32 matmul rate (1024^3 ``torch.mm``) in the same process.

The cases are interleaved: for each repeat and gridsize ours and the original run back to back, the order
alternating between repeats (ours-first, original-first, ...), so a change of machine load hits both; the
tables give per-case medians over the repeats and the range of the per-repeat ratios.

The original's model is configured to the same network as ours (n_filters_scale, C_model = C_forward = gridsize^2,
``cbam_encoder=False``, ``decoder_last_c_outer_fraction`` = 4 border channels, ``decoder_last_amp_channels`` = C,
sigmoid amplitude); its own defaults (CBAM encoder attention, 8 border channels, one amplitude channel, SiLU)
give a different network, whose parameter count is printed for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N, BATCH, THREADS = 64, 16, 2
HERE = Path(__file__).resolve().parent
NO_ORIGINAL = (
    "side_by_side.py: the original PtychoPINN PyTorch backend must be installed in another environment: create "
    "a venv with torch and lightning, put the ptycho_torch package of github.com/hoidn/PtychoPINN in a directory "
    "outside this repository (it is never vendored here), and pass --original-python <venv>/bin/python "
    "--original-path <that directory>"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--original-python", default=None,
                    help="interpreter of the environment where the original backend's dependencies are installed")
    ap.add_argument("--original-path", default=None,
                    help="directory holding the original's ptycho_torch package (its subprocesses' PYTHONPATH)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats of every case (default 3)")
    ap.add_argument("--groups", type=int, default=64, help="groups of synthetic data per gridsize (default 64)")
    ap.add_argument("--timed-batches", type=int, default=3,
                    help="timed batches per measurement (bare steps, inference passes, the timed fit epoch)")
    ap.add_argument("--n-filters-scale", type=int, default=2, help="network width factor of both models (default 2)")
    ap.add_argument("--gridsizes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--warmup-steps", type=int, default=8, help="training steps before the timed ones (default 8)")
    ap.add_argument("--flush-denormal", action="store_true",
                    help="torch.set_flush_denormal(True) in both sides' processes (a diagnostic; off by default)")
    ap.add_argument("--json", default=None, help="write every case's record (incl. per-batch seconds) to this file")
    ap.add_argument("--no-fit", action="store_true", help="skip the Trainer.fit measurement")
    ap.add_argument("--case", choices=("ours", "original"), default=None, help=argparse.SUPPRESS)
    ap.add_argument("--gridsize", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.groups < BATCH or args.timed_batches < 1 or args.warmup_steps < 1:
        ap.error("--repeats, --timed-batches and --warmup-steps must be >= 1 and --groups >= the batch size (16)")
    return args


# ---------------------------------------------------------------------------------------------- shared helpers
# (these run in both interpreters: standard library and torch only)

def _matmul_rate() -> float:
    """float32 FLOP/s of a 1024^3 ``torch.mm`` (the definition of benchmarks/realistic.py's ``matmul_rate``,
    repeated here because the original's subprocess imports nothing of this repository)."""
    import torch

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    reps, t = 10, time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * 1024**3 * reps / (time.perf_counter() - t)


def _count_flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def _step_times(fn, items) -> list[float]:
    """Seconds of ``fn(item)`` for each item."""
    out = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        out.append(time.perf_counter() - t)
    return out


def _fit_step_times(module, batches, timed_batches: int) -> list[float]:
    """Per-batch seconds of the second epoch of ``lightning.Trainer.fit`` over ``timed_batches`` batches (epoch 1:
    warm-up): from each ``on_train_batch_start`` to the next one (the last: to ``on_train_epoch_end``), so the
    loader, the step, its logging and every hook between two batches count."""
    import lightning as L
    import torch

    marks: list[list[float]] = []

    class _EpochClock(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            marks.append([])

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            marks[-1].append(time.perf_counter())

        def on_train_epoch_end(self, trainer, pl_module):
            marks[-1].append(time.perf_counter())

    loader = torch.utils.data.DataLoader(batches[:timed_batches], batch_size=None, shuffle=False)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0, callbacks=[_EpochClock()])
    trainer.fit(module, train_dataloaders=loader)
    if len(marks) != 2 or len(marks[1]) != timed_batches + 1:
        raise RuntimeError(f"Trainer.fit: expected 2 epochs of {timed_batches} batches, recorded {marks}")
    return [b - a for a, b in zip(marks[1][:-1], marks[1][1:], strict=True)]


def _times(**lists) -> dict:
    """``key``: the median of each list of per-batch seconds (None stays None), ``key_all``: the list."""
    out: dict = {}
    for k, v in lists.items():
        out[k] = None if v is None else statistics.median(v)
        out[f"{k}_all"] = v
    return out


def _batches_of(n: int, timed: int) -> list[int]:
    """Indices of ``timed`` batches cycling through ``n`` prepared batches."""
    return [i % n for i in range(timed)]


# ---------------------------------------------------------------------------------------------- data
def prepare_data(gridsize: int, groups: int, path: Path) -> Path:
    """Group synthetic random amplitudes once (this backend's grouping) and store what both cases read:
    X (groups, N, N, C) float32 amplitudes, coords_relative (groups, 1, 2, C), probe (N, N) complex64."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    import torch_throughput as tt

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho_torch.data import PtychoDataContainerTorch

    C = gridsize * gridsize
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainingConfig(model=ModelConfig(N=N, gridsize=gridsize), n_groups=groups, batch_size=BATCH,
                             nepochs=1, nphotons=1e9, neighbor_count=max(4, C), subsample_seed=0,
                             output_dir=Path(tmp))
        raw = tt._raw(max(groups, 64))
        container = PtychoDataContainerTorch.from_raw_data(raw, cfg)
        b = container.batch(list(range(groups)))
    out = path / f"data_gs{gridsize}.npz"
    np.savez(out, X=b["X"].numpy().astype(np.float32), coords_relative=b["coords_relative"].numpy().astype(np.float32),
             probe=np.asarray(raw.probeGuess, np.complex64))
    return out


# ---------------------------------------------------------------------------------------------- our case
def run_ours(gridsize: int, data: str, timed: int, nfs: int, fit: bool, warmup: int = 8, ftz: bool = False) -> dict:
    import numpy as np
    import torch

    sys.path.insert(0, str(HERE))
    import torch_throughput as tt

    import ptycho_torch
    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho_torch.forward_model import object_patches
    from ptycho_torch.lightning_module import PtychoPINN_Lightning
    from ptycho_torch.network import run_generator

    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(ftz)
    torch.manual_seed(0)
    d = np.load(data)
    X, coords = torch.from_numpy(d["X"]), torch.from_numpy(d["coords_relative"])
    nb = X.shape[0] // BATCH
    batches = [{"X": X[i * BATCH:(i + 1) * BATCH], "coords_relative": coords[i * BATCH:(i + 1) * BATCH]}
               for i in range(nb)]
    mc = ModelConfig(N=N, gridsize=gridsize, n_filters_scale=nfs)
    tc = TrainingConfig(model=mc, batch_size=BATCH, nphotons=1e9)
    module = PtychoPINN_Lightning(mc, tc, probe=d["probe"])
    opt = module.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    s = module.intensity_scale

    def infer(b):
        x = module.forward_model.scale_input(b["X"] * s)
        amp, phase = run_generator(module.encoder, module.decoder_amp, module.decoder_phase, x)
        return object_patches(amp, phase)

    def train_flops():
        tt._loss(module, batches[0]).backward()

    tt._bare_steps(module, [batches[i] for i in _batches_of(nb, warmup)], opt)  # warm-up
    idx = _batches_of(nb, timed)
    t_train = _step_times(lambda i: tt._bare_steps(module, [batches[i]], opt), idx)
    module.zero_grad(set_to_none=True)
    f_train = _count_flops(train_flops)
    module.zero_grad(set_to_none=True)
    module.eval()
    with torch.inference_mode():
        infer(batches[0])
        module.predict_step(batches[0])
        t_inf = _step_times(lambda i: infer(batches[i]), idx * 3)
        t_pred = _step_times(lambda i: module.predict_step(batches[i]), idx * 3)
        f_inf = _count_flops(lambda: infer(batches[0]))
    module.train()
    t_fit = _fit_step_times(module, batches, timed) if fit else None
    net = sum(p.numel() for m in (module.encoder, module.decoder_amp, module.decoder_phase) for p in m.parameters())
    return {
        "which": "ours", "gridsize": gridsize, "warmup_steps": warmup, "flush_denormal": ftz, "package": str(Path(ptycho_torch.__file__).parent),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "params_net": net, "params_trainable": sum(p.numel() for p in module.parameters() if p.requires_grad),
        "flops_train": f_train, "flops_infer": f_inf,
        **_times(train_step_s=t_train, infer_batch_s=t_inf, predict_batch_s=t_pred, fit_step_s=t_fit),
        "matmul_flop_rate": max(_matmul_rate() for _ in range(3)),
    }


# ---------------------------------------------------------------------------------------------- original case
def original_configs(gridsize: int, nfs: int, matched: bool = True):
    """The original's (ModelConfig, DataConfig, TrainingConfig, InferenceConfig), the order of its
    ``PtychoPINN_Lightning`` arguments; ``matched``: the settings that
    give our network (see the module docstring), else the original's own defaults for this N and gridsize."""
    from ptycho_torch.config_params import DataConfig, InferenceConfig, ModelConfig, TrainingConfig

    C = gridsize * gridsize
    dc = DataConfig(N=N, C=C, grid_size=(gridsize, gridsize))
    kw = dict(C_model=C, C_forward=C, n_filters_scale=nfs)
    if matched:
        # 4 border channels of the 32*nfs decoder channels; C amplitude channels; no CBAM; sigmoid amplitude
        kw.update(cbam_encoder=False, decoder_last_c_outer_fraction=4 / (32 * nfs), decoder_last_amp_channels=C,
                  amp_activation="sigmoid")
    mc = ModelConfig(**kw)
    tc = TrainingConfig(device="cpu", strategy=None, batch_size=BATCH, epochs=2, num_workers=0)
    return mc, dc, tc, InferenceConfig()


def run_original(gridsize: int, data: str, timed: int, nfs: int, fit: bool, original_path: str, warmup: int = 8,
                 ftz: bool = False) -> dict:
    import contextlib
    import io

    import numpy as np
    import torch

    import ptycho_torch

    pkg = Path(ptycho_torch.__file__).resolve().parent
    if Path(original_path).resolve() not in pkg.parents:
        raise RuntimeError(f"ptycho_torch was imported from {pkg}, not from --original-path {original_path}")
    import ptycho_torch.helper as hh
    from ptycho_torch.model import PtychoPINN_Lightning

    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(ftz)
    torch.manual_seed(0)
    with contextlib.redirect_stdout(io.StringIO()):  # the original prints one line per decoder block
        module = PtychoPINN_Lightning(*original_configs(gridsize, nfs))
        default_net = sum(p.numel() for p in PtychoPINN_Lightning(*original_configs(gridsize, nfs, False))
                          .model.autoencoder.parameters())
    dc = module.data_config
    d = np.load(data)
    # channel-first (B, C, N, N) images and (B, C, 1, 2) positions: the layout of the original's dataloader
    X = torch.from_numpy(d["X"]).permute(0, 3, 1, 2).contiguous()
    pos = torch.from_numpy(d["coords_relative"]).permute(0, 3, 1, 2).contiguous()
    C = X.shape[1]
    probe = torch.from_numpy(d["probe"]).reshape(1, 1, 1, N, N)
    nb = X.shape[0] // BATCH
    batches = []
    for i in range(nb):
        x = X[i * BATCH:(i + 1) * BATCH]
        B = x.shape[0]
        batches.append((
            {"images": x, "coords_relative": pos[i * BATCH:(i + 1) * BATCH],
             "rms_scaling_constant": hh.get_rms_scaling_factor(x, dc).expand(B, 1, 1, 1).contiguous(),
             "physics_scaling_constant": hh.get_physics_scaling_factor(x**2, dc).expand(B, 1, 1, 1).contiguous(),
             "experiment_id": torch.zeros(B, dtype=torch.int64)},
            probe.expand(B, C, 1, N, N).contiguous(),
            torch.ones(B, 1, 1, 1),
        ))
    opt = module.configure_optimizers()["optimizer"]

    def step(b):
        loss = module.compute_loss(b)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer(b):
        return module.forward_predict(b[0]["images"], b[0]["coords_relative"], b[1], b[0]["rms_scaling_constant"])

    module.train()
    for i in _batches_of(nb, warmup):  # warm-up
        step(batches[i])
    idx = _batches_of(nb, timed)
    t_train = _step_times(lambda i: step(batches[i]), idx)
    module.zero_grad(set_to_none=True)
    f_train = _count_flops(lambda: module.compute_loss(batches[0]).backward())
    module.zero_grad(set_to_none=True)
    module.eval()
    with torch.inference_mode():
        infer(batches[0])
        t_inf = _step_times(lambda i: infer(batches[i]), idx * 3)
        f_inf = _count_flops(lambda: infer(batches[0]))
    module.train()
    t_fit = _fit_step_times(module, batches, timed) if fit else None
    return {
        "which": "original", "gridsize": gridsize, "warmup_steps": warmup, "flush_denormal": ftz, "package": str(pkg),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "params_net": sum(p.numel() for p in module.model.autoencoder.parameters()),
        "params_trainable": sum(p.numel() for p in module.parameters() if p.requires_grad),
        "params_net_original_defaults": default_net,
        "flops_train": f_train, "flops_infer": f_inf,
        **_times(train_step_s=t_train, infer_batch_s=t_inf, predict_batch_s=None, fit_step_s=t_fit),
        "matmul_flop_rate": max(_matmul_rate() for _ in range(3)),
    }


# ---------------------------------------------------------------------------------------------- report
def _med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _patterns(case: dict, key: str) -> float | None:
    s = case.get(key)
    return None if s is None else BATCH * case["gridsize"] ** 2 / s


def _best(cases: list[dict], key: str) -> float | None:
    """Patterns/s of the fastest timed batch of ``key`` over all ``cases`` (None when not measured)."""
    times = [t for c in cases for t in (c.get(f"{key}_all") or [])]
    return BATCH * cases[0]["gridsize"] ** 2 / min(times) if times else None


def summarize(cases: list[dict]) -> list[dict]:
    """One row per gridsize: each side's best batch and median over the repeats, their ratios and the per-repeat
    ratio range (of the case medians)."""
    rows = []
    for gs in sorted({c["gridsize"] for c in cases}):
        ours = [c for c in cases if c["gridsize"] == gs and c["which"] == "ours"]
        orig = [c for c in cases if c["gridsize"] == gs and c["which"] == "original"]
        if not ours or not orig:
            continue
        row: dict = {"gridsize": gs, "repeats": min(len(ours), len(orig))}
        for key, name in (("train_step_s", "train"), ("fit_step_s", "fit"), ("infer_batch_s", "infer"),
                          ("predict_batch_s", "predict")):
            o = _med(_patterns(c, key) for c in ours)
            g = _med(_patterns(c, key) for c in orig)
            row[f"ours_{name}"], row[f"orig_{name}"] = o, g
            row[f"ratio_{name}"] = None if (o is None or g is None) else o / g
            per = [_patterns(a, key) / _patterns(b, key) for a, b in zip(ours, orig, strict=False)
                   if _patterns(a, key) is not None and _patterns(b, key) is not None]
            row[f"range_{name}"] = (min(per), max(per)) if per else None
            ob, gb = _best(ours, key), _best(orig, key)
            row[f"ours_{name}_best"], row[f"orig_{name}_best"] = ob, gb
            row[f"ratio_{name}_best"] = None if (ob is None or gb is None) else ob / gb
        for side, group in (("ours", ours), ("orig", orig)):
            row[f"{side}_params"] = group[0]["params_net"]
            row[f"{side}_flops_train"] = group[0]["flops_train"]
            row[f"{side}_flops_infer"] = group[0]["flops_infer"]
            row[f"{side}_mm"] = _med(c["matmul_flop_rate"] for c in group)
        row["orig_params_defaults"] = orig[0].get("params_net_original_defaults")
        row["mm"] = _med(c["matmul_flop_rate"] for c in ours + orig)
        rows.append(row)
    return rows


def _f(v, fmt: str = ".1f") -> str:
    return "n/a" if v is None else format(v, fmt)


def _ratio_cell(r: dict, name: str) -> str:
    """'**best ratio**x / median ratio x (per-repeat range)'."""
    best, med = r.get(f"ratio_{name}_best"), r[f"ratio_{name}"]
    if best is None and med is None:
        return "n/a"
    rg = r[f"range_{name}"]
    span = "" if rg is None else f" ({rg[0]:.2f}-{rg[1]:.2f})"
    return f"**{_f(best, '.2f')}x** / {_f(med, '.2f')}x{span}"


def _pair(r: dict, side: str, name: str) -> str:
    """'best / median' patterns/s."""
    return f"{_f(r.get(f'{side}_{name}_best'))} / {_f(r[f'{side}_{name}'])}"


def build_tables(rows: list[dict]) -> str:
    """The printed report (markdown tables) of :func:`summarize`'s rows."""
    out = [
        ("| gs | params ours | params original | train GFLOP/batch ours / orig | infer GFLOP/batch ours / orig | "
         "matmul GFLOP/s |"),
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['gridsize']} | {r['ours_params']:,} | {r['orig_params']:,} | "
            f"{r['ours_flops_train'] / 1e9:.1f} / {r['orig_flops_train'] / 1e9:.1f} | "
            f"{r['ours_flops_infer'] / 1e9:.1f} / {r['orig_flops_infer'] / 1e9:.1f} | {r['mm'] / 1e9:.1f} |")
    out += [
        "",
        "patterns/s: best batch / median of the repeats; ratio ours/original: **of the best** / of the medians "
        "(range of the per-repeat ratios)",
        "",
        ("| gs | ours train | original train | ratio | ours fit | original fit | ratio | "
         "ours infer | original infer | ratio | ours predict_step |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['gridsize']} | {_pair(r, 'ours', 'train')} | {_pair(r, 'orig', 'train')} | {_ratio_cell(r, 'train')} | "
            f"{_pair(r, 'ours', 'fit')} | {_pair(r, 'orig', 'fit')} | {_ratio_cell(r, 'fit')} | "
            f"{_pair(r, 'ours', 'infer')} | {_pair(r, 'orig', 'infer')} | {_ratio_cell(r, 'infer')} | "
            f"{_pair(r, 'ours', 'predict')} |")
    notes = []
    for r in rows:
        if r["ours_params"] != r["orig_params"]:
            notes.append(f"NOTE gs={r['gridsize']}: the networks differ in size ({r['ours_params']:,} against "
                         f"{r['orig_params']:,} parameters); the ratios compare different networks")
        if r.get("orig_params_defaults") is not None and r["orig_params_defaults"] != r["orig_params"]:
            notes.append(f"gs={r['gridsize']}: the original with its own ModelConfig defaults (CBAM encoder, 8 border "
                         f"channels, 1 amplitude channel) has {r['orig_params_defaults']:,} network parameters")
        for side in ("ours", "orig"):
            ft = r[f"{side}_flops_train"]
            tr = r[f"{side}_train_best"]
            if tr is not None:
                rate = ft * tr / (BATCH * r["gridsize"] ** 2)
                notes.append(f"gs={r['gridsize']} {'ours' if side == 'ours' else 'original'}: best bare training batch at "
                             f"{rate / 1e9:.1f} GFLOP/s = {rate / r[f'{side}_mm']:.2f} of its matmul rate")
    return "\n".join(out + [""] + notes)


# ---------------------------------------------------------------------------------------------- driver
def _run_case(cmd: list[str], env: dict | None) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        sys.exit(f"case {' '.join(cmd[1:])} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.case == "ours":
        print(json.dumps(run_ours(args.gridsize, args.data, args.timed_batches, args.n_filters_scale, not args.no_fit,
                                  args.warmup_steps, args.flush_denormal)))
        return 0
    if args.case == "original":
        print(json.dumps(run_original(args.gridsize, args.data, args.timed_batches, args.n_filters_scale,
                                      not args.no_fit, args.original_path, args.warmup_steps, args.flush_denormal)))
        return 0
    if not args.original_python or not args.original_path:
        print(NO_ORIGINAL, file=sys.stderr)
        return 2
    orig_py, orig_path = Path(args.original_python), Path(args.original_path)
    if not orig_py.exists() or not (orig_path / "ptycho_torch" / "model.py").exists():
        print(f"side_by_side.py: no original installation at --original-python {orig_py} / --original-path "
              f"{orig_path} (expected <path>/ptycho_torch/model.py); {NO_ORIGINAL.split(': ', 1)[1]}", file=sys.stderr)
        return 2
    env_orig = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env_orig["PYTHONPATH"] = str(orig_path.resolve())
    env_orig.setdefault("OMP_NUM_THREADS", str(THREADS))
    common = ["--timed-batches", str(args.timed_batches), "--n-filters-scale", str(args.n_filters_scale),
              "--original-path", str(orig_path.resolve()), "--warmup-steps", str(args.warmup_steps)]
    common += (["--no-fit"] if args.no_fit else []) + (["--flush-denormal"] if args.flush_denormal else [])
    t0 = time.time()
    cases: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = {gs: prepare_data(gs, args.groups, Path(tmp)) for gs in args.gridsizes}
        for rep in range(args.repeats):
            for gs in args.gridsizes:
                tail = ["--gridsize", str(gs), "--data", str(data[gs])] + common
                ours = ([sys.executable, __file__, "--case", "ours"] + tail, None)
                orig = ([str(orig_py), __file__, "--case", "original"] + tail, env_orig)
                for cmd, env in ((ours, orig) if rep % 2 == 0 else (orig, ours)):
                    cases.append(_run_case(cmd, env))
                    c = cases[-1]
                    print(f"  repeat {rep + 1} gs={gs} {c['which']:>8}: train {_f(_patterns(c, 'train_step_s'))} "
                          f"fit {_f(_patterns(c, 'fit_step_s'))} infer {_f(_patterns(c, 'infer_batch_s'))} pat/s, "
                          f"matmul {c['matmul_flop_rate'] / 1e9:.1f} GFLOP/s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(cases, indent=1))
    o = next(c for c in cases if c["which"] == "original")
    u = next(c for c in cases if c["which"] == "ours")
    print(f"\nSide by side, N={N}, batch {BATCH}, torch threads {THREADS}, n_filters_scale {args.n_filters_scale}, "
          f"{args.groups} groups, {args.warmup_steps} warm-up steps, {args.timed_batches} timed batches per "
          f"measurement, {args.repeats} interleaved repeats, flush_denormal {args.flush_denormal}, "
          f"{time.time() - t0:.0f} s")
    print(f"ours: {u['package']} (torch {u['torch']}); original: {o['package']} (torch {o['torch']}, "
          f"{args.original_python})\n")
    print(build_tables(summarize(cases)))
    print("\ntrain = bare loss+backward+Adam steps; fit = the timed epoch of lightning Trainer.fit; infer = network "
          "forward to complex patches under inference_mode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
