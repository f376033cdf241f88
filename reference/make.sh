#!/usr/bin/env bash
# Regenerates reference/ with the workflow itself: runs the study of reference/config.yaml in a working
# folder (default: a fresh one under /tmp), then copies the files a reader opens into reference/.
#
#   bash reference/make.sh [WORKDIR] [CORES]
#
# WORKDIR may hold an earlier run: only what is missing, older than its inputs, or made from another set
# of inputs is redone (so a run with more objectives adds their models and rescores, keeping the others).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
workdir="${1:-$(mktemp -d /tmp/scbeta-reference.XXXXXX)}"
cores="${2:-2}"
mkdir -p "$workdir"
snakemake --snakefile "$repo/Snakefile" --directory "$workdir" --configfile "$repo/reference/config.yaml" \
    --cores "$cores" --rerun-triggers mtime input

out="$repo/reference"
results="$workdir/results"
mkdir -p "$out/simulated/metrics" "$out/figures" "$out/provenance"
cp "$results/claims.md" "$results/claims.tsv" "$out/"
cp "$results/simulated/metrics/all.tsv" "$results/simulated/metrics/collapse.tsv" "$out/simulated/metrics/"
for figure in figure2 tradeoff metrics_by_beta programs_simulated; do
    cp "$results/figures/$figure.png" "$out/figures/"
done
cp "$results/provenance/versions.tsv" "$results/provenance/config.yaml" "$out/provenance/"
python "$repo/benchmarks/workflow_time.py" "$results/benchmarks" > "$out/rule_times.txt"
du -sh "$out"
