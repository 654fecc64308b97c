"""Side by side with the original PtychoPINN PyTorch backend: training and inference patterns/s (issue 19).

Usage (the original installed in ANOTHER environment; it is never vendored into this repository):

    OMP_NUM_THREADS=2 python benchmarks/side_by_side.py \\
        --original-python /path/to/venv_orig/bin/python --original-path /path/to/orig_src [--repeats 3]

``--original-path`` is the directory that holds the original's ``ptycho_torch`` package (the public
github.com/hoidn/PtychoPINN repository's PyTorch backend); it becomes the only PYTHONPATH entry of the original's
subprocesses, and each of them checks that ``ptycho_torch`` was imported from there. Without
``--original-python`` the script exits with status 2 and a one-line message.

For gridsize 1 and 2 at N=64, batch 16, ``torch.set_num_threads(2)``, on the same synthetic random diffraction
amplitudes and the same scan offsets (grouped once by this backend and handed to both as arrays), each side runs
in one worker subprocess per gridsize (ours in this interpreter, the original in ``--original-python``), which
sets its model up, runs ``--warmup-steps`` (8) training steps and then answers one measurement at a time:

* ``train``: ``--timed-batches`` (3) bare optimizer steps: each package's own loss (forward, physics, Poisson
  NLL), backward and its own ``configure_optimizers`` Adam. Ours' CPU steps intermittently run up to ~2.5x
  slower (denormal floats: its fused Adam step then takes ~0.4 s instead of ~0.01 s; they vanish with
  ``torch.set_flush_denormal(True)``, offered as ``--flush-denormal`` for both sides), most often in the first
  steps, hence the warm-up;
* ``fit``: each package's ``LightningModule.training_step`` in one ``lightning`` Trainer configuration (CPU, no
  logger, no checkpoints, no progress bar) over the same number of batches: epoch 1 is warm-up, epoch 2 is timed
  (one interval = from a batch's ``on_train_batch_start`` to the next one's, or to the epoch's end);
* ``infer``: the network forward under ``torch.inference_mode`` (diffraction -> complex object patches: ours
  ``run_generator`` + ``object_patches``, the original's ``PtychoPINN_Lightning.forward_predict``); our full
  ``predict_step`` (network + physics + trimmed object) is reported alongside;
* ``matmul``: the float32 matmul rate (1024^3 ``torch.mm``), after each ``train``;
* once at set-up: parameter counts and FLOPs per batch (``torch.utils.flop_counter.FlopCounterMode``: one
  training forward+backward, one inference forward).

The measurements are interleaved finely: in each of ``--repeats`` (3) rounds every measurement is taken from ours
and from the original back to back (seconds apart), the order alternating between rounds, so a change of machine
load hits both. The ratio ours/original is computed per round from these adjacent measurements (median batch
time of each) and reported as the median over the rounds with its range; the patterns/s columns give each side's
median batch and, in parentheses, its best batch. ``--json`` writes every per-batch time.

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

from side_by_side_report import BATCH, OPS, build_tables, pattern_rate, summarize, times_of  # noqa: F401

N, THREADS = 64, 2
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
    ap.add_argument("--repeats", type=int, default=3,
                    help="interleaved rounds: every measurement of both sides, back to back (default 3)")
    ap.add_argument("--groups", type=int, default=64, help="groups of synthetic data per gridsize (default 64)")
    ap.add_argument("--timed-batches", type=int, default=3,
                    help="timed batches per measurement (bare steps, inference passes, the timed fit epoch)")
    ap.add_argument("--n-filters-scale", type=int, default=2, help="network width factor of both models (default 2)")
    ap.add_argument("--gridsizes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--warmup-steps", type=int, default=8, help="training steps before the timed ones (default 8)")
    ap.add_argument("--flush-denormal", action="store_true",
                    help="torch.set_flush_denormal(True) in both sides' processes (a diagnostic; off by default)")
    ap.add_argument("--json", default=None, help="write every measurement (incl. per-batch seconds) to this file")
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
    """float32 FLOP/s of a 1024^3 ``torch.mm``: benchmarks/realistic.py's ``matmul_rate`` (numpy and the standard
    library at import, so the original's interpreter can load it too)."""
    from realistic import matmul_rate

    return matmul_rate()


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


# ---------------------------------------------------------------------------------------------- the two sides
class Bench:
    """One side, set up and warmed up in its own process: ``train(i)`` one optimizer step on batch i, ``infer(i)``
    the network forward (call under inference_mode), ``predict(i)`` our full predict_step (None for the original),
    ``fit()`` per-batch seconds of a Trainer.fit timed epoch, ``info`` the parameter and FLOP counts."""

    def __init__(self, module, batches, train, infer, predict, info):
        self.module, self.batches, self.train, self.infer, self.predict, self.info = (
            module, batches, train, infer, predict, info)


def setup_ours(gridsize: int, data: str, nfs: int, warmup: int = 8, ftz: bool = False) -> Bench:
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

    def infer(i):
        x = module.forward_model.scale_input(batches[i]["X"] * s)
        amp, phase = run_generator(module.encoder, module.decoder_amp, module.decoder_phase, x)
        return object_patches(amp, phase)

    def train(i):
        tt._bare_steps(module, [batches[i]], opt)

    for i in _batches_of(nb, warmup):  # warm-up
        train(i)
    module.zero_grad(set_to_none=True)
    f_train = _count_flops(lambda: tt._loss(module, batches[0]).backward())
    module.zero_grad(set_to_none=True)
    module.eval()
    with torch.inference_mode():
        infer(0)
        module.predict_step(batches[0])
        f_inf = _count_flops(lambda: infer(0))
    module.train()
    net = sum(p.numel() for m in (module.encoder, module.decoder_amp, module.decoder_phase) for p in m.parameters())
    info = {"which": "ours", "gridsize": gridsize, "warmup_steps": warmup, "flush_denormal": ftz,
            "package": str(Path(ptycho_torch.__file__).parent), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "params_net": net,
            "params_trainable": sum(p.numel() for p in module.parameters() if p.requires_grad),
            "flops_train": f_train, "flops_infer": f_inf}
    return Bench(module, batches, train, infer, lambda i: module.predict_step(batches[i]), info)


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


def setup_original(gridsize: int, data: str, nfs: int, original_path: str, warmup: int = 8,
                   ftz: bool = False) -> Bench:
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

    def train(i):
        loss = module.compute_loss(batches[i])
        opt.zero_grad()
        loss.backward()
        opt.step()

    def infer(i):
        b = batches[i]
        return module.forward_predict(b[0]["images"], b[0]["coords_relative"], b[1], b[0]["rms_scaling_constant"])

    module.train()
    for i in _batches_of(nb, warmup):  # warm-up
        train(i)
    module.zero_grad(set_to_none=True)
    f_train = _count_flops(lambda: module.compute_loss(batches[0]).backward())
    module.zero_grad(set_to_none=True)
    module.eval()
    with torch.inference_mode():
        infer(0)
        f_inf = _count_flops(lambda: infer(0))
    module.train()
    info = {"which": "original", "gridsize": gridsize, "warmup_steps": warmup, "flush_denormal": ftz,
            "package": str(pkg), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "params_net": sum(p.numel() for p in module.model.autoencoder.parameters()),
            "params_trainable": sum(p.numel() for p in module.parameters() if p.requires_grad),
            "params_net_original_defaults": default_net, "flops_train": f_train, "flops_infer": f_inf}
    return Bench(module, batches, train, infer, None, info)


# ---------------------------------------------------------------------------------------------- worker
PROTO = "@@side_by_side "


def serve(bench: Bench, timed: int) -> None:
    """Answer one measurement per stdin line ('train', 'infer', 'predict', 'fit', 'matmul', 'quit') with one
    protocol line on the real stdout; everything else the libraries print goes to stderr."""
    import torch

    proto, sys.stdout = sys.stdout, sys.stderr

    def say(obj) -> None:
        proto.write(PROTO + json.dumps(obj) + "\n")
        proto.flush()

    nb = len(bench.batches)
    say({"ready": bench.info})
    offset = 0
    for line in sys.stdin:
        op = line.strip()
        idx = [(offset + k) % nb for k in range(timed)]
        offset += timed
        if op == "train":
            say({"op": op, "times": _step_times(bench.train, idx)})
        elif op in ("infer", "predict"):
            fn = bench.infer if op == "infer" else bench.predict
            if fn is None:
                say({"op": op, "times": None})
                continue
            bench.module.eval()
            with torch.inference_mode():
                t = _step_times(fn, idx)
            bench.module.train()
            say({"op": op, "times": t})
        elif op == "fit":
            say({"op": op, "times": _fit_step_times(bench.module, bench.batches, timed)})
        elif op == "matmul":
            say({"op": op, "rate": _matmul_rate()})
        else:
            say({"op": "quit"})
            return


class Worker:
    """A side's serving subprocess (stderr to a file, so that a chatty library cannot block on a full pipe)."""

    def __init__(self, cmd: list[str], env: dict | None, log: Path):
        self.log = log
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"),
                                     env=env, text=True, bufsize=1)
        self.info = self._read()["ready"]

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(PROTO):
                return json.loads(line[len(PROTO):])
        raise RuntimeError(f"{self.proc.args[1:4]} ended (status {self.proc.wait()}):\n"
                           f"{self.log.read_text()[-3000:]}")

    def ask(self, op: str) -> dict:
        self.proc.stdin.write(op + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
            except (RuntimeError, BrokenPipeError):
                pass
            self.proc.wait(timeout=60)


# ---------------------------------------------------------------------------------------------- driver
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.case == "ours":
        serve(setup_ours(args.gridsize, args.data, args.n_filters_scale, args.warmup_steps, args.flush_denormal),
              args.timed_batches)
        return 0
    if args.case == "original":
        serve(setup_original(args.gridsize, args.data, args.n_filters_scale, args.original_path, args.warmup_steps,
                             args.flush_denormal), args.timed_batches)
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
    common += ["--flush-denormal"] if args.flush_denormal else []
    ops = ("train", "infer") if args.no_fit else ("train", "infer", "fit")
    t0 = time.time()
    records: list[dict] = []
    infos: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for gs in args.gridsizes:
            data = prepare_data(gs, args.groups, Path(tmp))
            tail = ["--gridsize", str(gs), "--data", str(data)] + common
            # one warmed-up worker per side, started one after the other (their warm-ups do not overlap)
            ours = Worker([sys.executable, __file__, "--case", "ours"] + tail, None, Path(tmp) / f"ours{gs}.log")
            try:
                orig = Worker([str(orig_py), __file__, "--case", "original"] + tail, env_orig,
                              Path(tmp) / f"orig{gs}.log")
            except BaseException:
                ours.close()
                raise
            infos += [ours.info, orig.info]
            try:
                for rnd in range(args.repeats):
                    order = ((ours, "ours"), (orig, "original"))
                    order = order if rnd % 2 == 0 else order[::-1]
                    for op in ops:
                        for w, which in order:
                            res = w.ask(op)
                            records.append({"which": which, "gridsize": gs, "round": rnd, "op": op,
                                            "times": res["times"]})
                            if op == "train":
                                records.append({"which": which, "gridsize": gs, "round": rnd, "op": "matmul",
                                                "rate": w.ask("matmul")["rate"]})
                    records.append({"which": "ours", "gridsize": gs, "round": rnd, "op": "predict",
                                    "times": ours.ask("predict")["times"]})
                    line = [f"  gs={gs} round {rnd + 1} ({order[0][1]} first):"]
                    for op in ops:
                        a = times_of(records, "ours", gs, op, rnd)
                        b = times_of(records, "original", gs, op, rnd)
                        line.append(f"{op} {pattern_rate(gs, statistics.median(a)):.1f} / {pattern_rate(gs, statistics.median(b)):.1f}")
                    mm = [r["rate"] for r in records if r["gridsize"] == gs and r["round"] == rnd and r["op"] == "matmul"]
                    print(" ".join(line) + f" pat/s (ours / original), matmul {min(mm) / 1e9:.0f}-{max(mm) / 1e9:.0f} "
                          "GFLOP/s", flush=True)
            finally:
                ours.close()
                orig.close()
    if args.json:
        Path(args.json).write_text(json.dumps({"infos": infos, "records": records}, indent=1))
    u, o = infos[0], infos[1]
    print(f"\nSide by side, N={N}, batch {BATCH}, torch threads {THREADS}, n_filters_scale {args.n_filters_scale}, "
          f"{args.groups} groups, {args.warmup_steps} warm-up steps, {args.timed_batches} batches per measurement, "
          f"{args.repeats} interleaved rounds, flush_denormal {args.flush_denormal}, {time.time() - t0:.0f} s")
    print(f"ours: {u['package']} (torch {u['torch']}); original: {o['package']} (torch {o['torch']}, "
          f"{args.original_python})\n")
    print(build_tables(summarize(records, infos)))
    print("\ntrain = bare loss+backward+Adam steps; fit = the timed epoch of lightning Trainer.fit; infer = network "
          "forward to complex patches under inference_mode; predict_step = ours, network + physics + trimmed object")
    return 0


if __name__ == "__main__":
    sys.exit(main())
