#!/usr/bin/env bash
# The whole default study, both arms, end to end with Snakemake on one GPU machine, timed per rule:
#   bash benchmarks/gpu_workflow.sh OUTDIR [LIMIT_S]
# - Environment: where Snakemake or scanpy is missing, installs the wheels carried in .whl
#   (../shared/tools/gpu/fetch-wheels.sh .whl and benchmarks/fetch_workflow_wheels.sh .whl) into
#   /tmp/site.
# - Kang et al. (2018): downloaded from GEO where it can be reached; otherwise a 25,000-cell
#   simulated stand-in (benchmarks/kang_standin.py, KANG_CELLS to change) takes the Kang arm's
#   place as dataset kang2018_standin, with the Kang sweep. OUTDIR/kang_source.txt says which.
# - Training on CUDA (training.device: cuda), one training job on the GPU at a time (--resources
#   gpu=1), every other job on the CPU cores beside it.
# - Snakemake stops cleanly after LIMIT_S seconds (default 540); running the script again with the
#   same OUTDIR goes on where it stopped (training resumes from its checkpoints). OUTDIR/elapsed.tsv
#   gets one row per call, OUTDIR/rule_times.txt the time per rule so far (benchmarks/workflow_time.py).
set -uo pipefail
out=$(mkdir -p "${1:?usage: gpu_workflow.sh OUTDIR [LIMIT_S]}" && cd "$1" && pwd)
limit=${2:-540}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PYTHONUNBUFFERED=1
if ! python3 -c "import snakemake, scanpy" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
  if python3 -c "import pandas, sys; sys.exit(int(pandas.__version__.split('.')[0]) < 3)"; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/pandas3/*.whl
  fi
fi
export PYTHONPATH="/tmp/site:$repo/src${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/device.txt"

overlay="$out/config.yaml"
if [ ! -f "$overlay" ]; then
  geo=$(python3 -c "import yaml; print(yaml.safe_load(open('config.yaml'))['datasets']['kang2018']['base_url'])")
  if timeout 20 python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)" "$geo" 2>/dev/null; then
    echo "kang2018 from GEO ($geo)" | tee "$out/kang_source.txt"
    printf 'training:\n  device: cuda\n' > "$overlay"
  else
    echo "kang2018_standin: simulated, ${KANG_CELLS:-25000} cells (GEO unreachable: $geo)" | tee "$out/kang_source.txt"
    python3 benchmarks/kang_standin.py "$out/kang_standin.h5ad" --cells "${KANG_CELLS:-25000}" || exit 1
    python3 - "$out" > "$overlay" <<'EOF'
import sys
import yaml

kang = yaml.safe_load(open("config.yaml"))["datasets"]["kang2018"]
standin = {"source": "h5ad", "path": f"{sys.argv[1]}/kang_standin.h5ad",
           "factors": {"stim_indicator": "numeric", "cell": "categorical"}, "identity": "cell",
           "figure_betas": kang["figure_betas"], "sweep": kang["sweep"], "baselines": kang["baselines"]}
print(yaml.safe_dump({"training": {"device": "cuda"},
                      "datasets": {"kang2018": {"enabled": False}, "kang2018_standin": standin}}, sort_keys=False))
EOF
  fi
fi

start=$(date +%s)
timeout -s INT -k 60 "$limit" python3 -m snakemake --snakefile Snakefile --directory "$out/work" \
  --configfile "$overlay" --cores "$(nproc)" --resources gpu=1 2>&1 | tee -a "$out/snakemake.log" | grep -E "^\[|steps|Error|error" 
status=${PIPESTATUS[0]}
printf '%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$(( $(date +%s) - start ))" "$status" >> "$out/elapsed.tsv"
python3 benchmarks/workflow_time.py "$out/work/results/benchmarks" > "$out/rule_times.txt" 2>&1
cat "$out/rule_times.txt"
if [ -f "$out/work/results/claims.md" ]; then
  mkdir -p "$out/figures"
  cp "$out/work/results/claims.md" "$out/work/results/claims.tsv" "$out/"
  cp "$out"/work/results/figures/*.png "$out/figures/" 2>/dev/null
fi
echo "exit $status after $(( $(date +%s) - start )) s; all calls (ISO time, seconds, exit status):"
cat "$out/elapsed.tsv"
exit "$status"
