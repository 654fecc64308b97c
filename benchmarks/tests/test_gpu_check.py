"""benchmarks/gpu_check.sh and gpu_throughput.py on the CPU (specs/scaling.md §5): the script's dry mode lists
the three steps, and its throughput step runs end to end and prints the table (the GPU figures themselves are
measured on a GPU machine, never here)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def _run(*args, env_extra=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run(["bash", str(SCRIPT), "--python", sys.executable, *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_dry_run_lists_the_three_steps_without_tensorflow_or_nox():
    res = _run("--dry-run")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "pytest packages/ptycho-torch/tests -m gpu" in out
    assert "pytest tests-parity" in out and "--device cuda --tf auto" in out
    assert "benchmarks/gpu_throughput.py --device cuda" in out
    commands = out.replace(sys.executable, "PYTHON")  # the interpreter may live in a .nox folder
    assert "nox" not in commands and "pip install" not in commands


def test_bad_arguments_are_one_line_and_exit_2():
    res = _run("--device", "tpu")
    assert res.returncode == 2 and res.stderr.strip() == "gpu_check.sh: --device: expected cuda or cpu, found 'tpu'"


def test_cpu_throughput_step_prints_one_table():
    res = _run("--device", "cpu", "--only", "throughput",
               env_extra={"GPU_CHECK_BENCH_ARGS": "--gridsizes 1 --precisions 32 bf16-mixed --steps 1"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    lines = res.stdout.splitlines()
    table = lines[lines.index(next(ln for ln in lines if ln.startswith("step "))):]
    assert table[1].startswith("tests ") and table[2].startswith("parity ")  # not run: --only
    row = table[3]
    assert row.startswith("throughput  ok") and "gs1 32: infer" in row and "gs1 bf16-mixed: infer" in row
