#!/usr/bin/env bash
# Every GPU measurement of benchmarks/README.md in one go, each script under its own time limit,
# its output in OUTDIR/<script>.log (and its table in OUTDIR/<script>.tsv), written as it runs:
#   bash benchmarks/gpu_all.sh OUTDIR
# 1. gpu_check.py: CUDA against the CPU, graph against eager, under sync-debug mode "error"; speed at K = 1, 8, 16.
# 2. figure2_default_size.py: Figure 2's simulated arm at the default size (3 seeds), collapse and programs.
# 3. study_time.py: the default study's training time on this device, per group kind.
# 4. collapse.py: candidate quick sizes, Figure 2C's grid with 12 seeds (four sets of three).
set -uo pipefail
out=${1:?usage: gpu_all.sh OUTDIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
run() {  # run LIMIT_S NAME ARGS...: one benchmark, killed after LIMIT_S seconds
  local limit=$1 name=$2; shift 2
  echo "== $name (at most ${limit} s): $*" | tee "$out/$name.log"
  timeout -k 5 "$limit" python "$@" 2>&1 | tee -a "$out/$name.log"
  echo "== $name: exit ${PIPESTATUS[0]}" | tee -a "$out/$name.log"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/device.txt"
run "${GPU_CHECK_S:-100}" gpu_check benchmarks/gpu_check.py --epochs 5 --speed-models 1 8 16
run "${FIGURE2_S:-190}" figure2_default_size benchmarks/figure2_default_size.py --device cuda --seeds 0 1 2 \
  --out "$out/figure2_default_size.tsv"
run "${STUDY_TIME_S:-70}" study_time benchmarks/study_time.py --device cuda --group-size 8
run "${COLLAPSE_S:-300}" collapse benchmarks/collapse.py --full-grid --stacked --device cuda \
  --settings candidate_d candidate_i candidate_m candidate_n candidate_o --seeds $(seq 0 11) \
  --out "$out/collapse.tsv"
