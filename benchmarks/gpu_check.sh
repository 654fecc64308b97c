#!/usr/bin/env bash
# One GPU check, under 8 minutes on one data-centre GPU (specs/scaling.md §5):
#   1. the PyTorch package's GPU tests        pytest packages/ptycho-torch/tests -m gpu
#   2. the steps of `nox -s parity-gpu`       pytest tests-parity --device cuda --tf auto (golden vectors
#                                             when TensorFlow is absent)
#   3. the throughput benchmark               python benchmarks/gpu_throughput.py
# and one table at the end (step, exit status, seconds, figures).
#
# Needs python with torch + lightning (+ pytest, numpy, scipy, scikit-image, h5py, safetensors, pyyaml); no
# TensorFlow and no network: the packages are used from their src/ folders through PYTHONPATH (nothing is
# installed). --install instead runs `pip install --no-deps --no-build-isolation -e` on the four packages
# (needs hatchling), which also registers the backend entry points.
#
# Usage: bash benchmarks/gpu_check.sh [--device cuda|cpu] [--only tests|parity|throughput] [--dry-run]
#        [--install] [--python PY]
#   --device cpu   the same steps on the CPU (a dry run of the script: GPU tests are then skipped by pytest,
#                  parity runs on the CPU, the benchmark uses small batches)
#   --dry-run      print the commands, run nothing
# GPU_CHECK_BENCH_ARGS: extra arguments of gpu_throughput.py (e.g. "--gridsizes 1 --steps 1" for a quick run)
set -u
DEVICE=cuda; ONLY=""; DRY=0; INSTALL=0; PY=${PYTHON:-python}
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2;;
    --only) ONLY="$2"; shift 2;;
    --dry-run) DRY=1; shift;;
    --install) INSTALL=1; shift;;
    --python) PY="$2"; shift 2;;
    *) echo "gpu_check.sh: unknown argument '$1' (expected --device, --only, --dry-run, --install, --python)" >&2; exit 2;;
  esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "gpu_check.sh: --device: expected cuda or cpu, found '$DEVICE'" >&2; exit 2;; esac
case "$ONLY" in ""|tests|parity|throughput) ;; *) echo "gpu_check.sh: --only: expected tests, parity or throughput, found '$ONLY'" >&2; exit 2;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SRC="$ROOT/packages/ptycho-contracts/src:$ROOT/packages/ptycho-bridge/src:$ROOT/packages/ptycho-torch/src:$ROOT/packages/ptycho-cli/src"
export PYTHONPATH="$SRC${PYTHONPATH:+:$PYTHONPATH}"
export NVIDIA_TF32_OVERRIDE=0 PYTHONHASHSEED=0 CUBLAS_WORKSPACE_CONFIG=:4096:8
if [ "$DEVICE" = cuda ]; then export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}; else export CUDA_VISIBLE_DEVICES=""; fi
LOG=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")

declare -a NAMES CMDS
NAMES+=(tests);      CMDS+=("$PY -m pytest packages/ptycho-torch/tests -m gpu -q -p no:cacheprovider")
NAMES+=(parity);     CMDS+=("$PY -m pytest tests-parity -q -p no:cacheprovider --device $DEVICE --tf auto --parity-report none")
NAMES+=(throughput); CMDS+=("$PY benchmarks/gpu_throughput.py --device $DEVICE ${GPU_CHECK_BENCH_ARGS:-}")

if [ "$INSTALL" = 1 ] && [ "$DRY" = 0 ]; then
  "$PY" -m pip install -q --no-deps --no-build-isolation -e packages/ptycho-contracts -e packages/ptycho-bridge \
    -e packages/ptycho-torch -e packages/ptycho-cli || { echo "gpu_check.sh: --install failed" >&2; exit 2; }
fi

declare -a STATUS SECS
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]}
  if [ -n "$ONLY" ] && [ "$ONLY" != "$name" ]; then STATUS[$i]="-"; SECS[$i]=0; continue; fi
  echo "== $name: ${CMDS[$i]}"
  if [ "$DRY" = 1 ]; then STATUS[$i]="dry"; SECS[$i]=0; continue; fi
  start=$(date +%s)
  # one step may take at most 4 minutes, so the three fit in 8 on a working GPU machine
  timeout 240 bash -c "${CMDS[$i]}" > "$LOG/$name.txt" 2>&1
  STATUS[$i]=$?
  SECS[$i]=$(( $(date +%s) - start ))
  tail -n 25 "$LOG/$name.txt"
done

summary() {  # the last pytest summary line, or the benchmark's table rows
  case "$1" in
    throughput) grep -E "^ *[12] +(32|bf16-mixed|16-mixed) " "$LOG/$1.txt" 2>/dev/null \
                  | awk '{printf "gs%s %s: infer %s/s train %s/s (%s of fp32 mm); ", $1, $2, $3, $4, $6}';;
    *) grep -E "(passed|failed|skipped|error|no tests ran)" "$LOG/$1.txt" 2>/dev/null | tail -n 1;;
  esac
}

echo
echo "gpu_check ($DEVICE) - logs in $LOG"
printf '%-11s %-7s %6s  %s\n' step status sec result
rc=0
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]}
  if [ "${STATUS[$i]}" = "-" ] || [ "${STATUS[$i]}" = dry ]; then
    printf '%-11s %-7s %6s  %s\n' "$name" "${STATUS[$i]}" "" ""
    continue
  fi
  [ "${STATUS[$i]}" = 0 ] || rc=1
  printf '%-11s %-7s %6s  %s\n' "$name" "$([ "${STATUS[$i]}" = 0 ] && echo ok || echo "rc=${STATUS[$i]}")" "${SECS[$i]}" "$(summary "$name")"
done
exit $rc
