"""Where a workflow run spent its time: Snakemake's per-job benchmark files summed per rule.

    python benchmarks/workflow_time.py [results/benchmarks]

Every rule writes `results/benchmarks/<dataset>/<rule>[/<run>].tsv` (wall seconds, CPU seconds,
peak resident memory); training writes one per group of runs, `<dataset>/train/<group>.tsv`, all
counted as the rule `train`. Prints one row per dataset and rule: jobs, total and largest wall time,
total CPU time, largest peak memory; then the totals. CPU seconds divided by the cores used
bound the wall time of the whole run from below.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def job_table(folder: Path) -> pd.DataFrame:
    """One row per benchmark file under `folder`: dataset, rule, wall s, CPU s, peak RSS (MiB)."""
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        parts = path.relative_to(folder).with_suffix("").parts
        dataset, rule = (parts[0], parts[1]) if len(parts) > 1 else ("-", parts[0])
        measured = pd.read_csv(path, sep="\t")
        if measured.empty:
            continue
        rows.append({"dataset": dataset, "rule": rule, "wall_s": float(measured["s"].iloc[-1]),
                     "cpu_s": float(measured["cpu_time"].iloc[-1]),
                     "max_rss_mib": float(pd.to_numeric(measured["max_rss"], errors="coerce").iloc[-1])})
    return pd.DataFrame(rows, columns=["dataset", "rule", "wall_s", "cpu_s", "max_rss_mib"])


def summary(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and rule: jobs, total and largest wall seconds, total CPU seconds, largest peak RSS."""
    table = jobs.groupby(["dataset", "rule"]).agg(
        jobs=("wall_s", "size"), wall_s=("wall_s", "sum"), max_wall_s=("wall_s", "max"),
        cpu_s=("cpu_s", "sum"), max_rss_mib=("max_rss_mib", "max"))
    return table.sort_values("cpu_s", ascending=False)


def main(folder: str = "results/benchmarks") -> None:
    jobs = job_table(Path(folder))
    if jobs.empty:
        sys.exit(f"no benchmark files under {folder}; run the workflow first")
    with pd.option_context("display.width", 120, "display.float_format", "{:,.1f}".format):
        print(summary(jobs).to_string())
    print(f"\n{len(jobs)} jobs: {jobs['wall_s'].sum() / 60:,.1f} min of job wall time, "
          f"{jobs['cpu_s'].sum() / 60:,.1f} min of CPU time, largest peak memory "
          f"{jobs['max_rss_mib'].max() / 1024:,.2f} GiB")


if __name__ == "__main__":
    main(*sys.argv[1:])
