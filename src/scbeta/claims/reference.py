"""This run against the full-size reference (`reference/claims.tsv`, the default study's own claims table).

For each comparison: this run's verdict beside the reference's. For each compared level: this run's
mean beside the reference's mean, standard deviation and range over its seeds, and where this
mean lies: inside the reference seeds' range, below it or above it. A dataset the reference did
not analyse (a user's own h5ad, say) is named as having none.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from scbeta.claims.decision import NOT_EVALUATED
from scbeta.claims.evaluation import COMPARISONS, PROGRAM_COMPARISONS
from scbeta.claims.render import _num

REFERENCE_TABLE = "claims.tsv"  # in the reference folder, beside its README.md
INSIDE, BELOW, ABOVE = "inside", "below", "above"
_KEYS = ["comparison", "dataset", "beta", "c_max"]
LEVEL_COLUMNS = [*_KEYS, "mean", "reference_mean", "reference_sd", "reference_min", "reference_max",
                 "reference_seeds", "position"]
VERDICT_COLUMNS = ["comparison", "dataset", "verdict", "reference_verdict", "agrees"]


def read_reference(folder: str | os.PathLike | None) -> pd.DataFrame | None:
    """The reference's claims table from `folder` (its `claims.tsv`), or None where there is none."""
    from scbeta._io import read_tsv

    if folder is None or not (Path(folder) / REFERENCE_TABLE).is_file():
        return None
    return read_tsv(Path(folder) / REFERENCE_TABLE)


def _position(mean: float, low: float, high: float) -> str:
    if np.isnan(mean) or np.isnan(low):
        return ""
    return BELOW if mean < low else ABOVE if mean > high else INSIDE


def compare(result: pd.DataFrame, reference: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(levels, verdicts): `evaluate_claims` or `evaluate_programs` tables of this run and of the reference,
    matched by comparison, dataset, β and C_max (`LEVEL_COLUMNS`) and by comparison and dataset
    (`VERDICT_COLUMNS`; `agrees` is "yes", "no", or "no reference" where the reference lacks the dataset)."""
    ref = reference.assign(dataset=reference["dataset"].fillna("").astype(str))
    levels = (result[result["mean"].notna()][[*_KEYS, "mean"]]
              .merge(ref[ref["mean"].notna()].rename(columns={"mean": "reference_mean", "sd": "reference_sd",
                                                              "seed_min": "reference_min", "seed_max": "reference_max",
                                                              "n_seeds": "reference_seeds"})
                     [[*_KEYS, "reference_mean", "reference_sd", "reference_min", "reference_max", "reference_seeds"]],
                     on=_KEYS, how="inner"))
    levels["position"] = [_position(*v) for v in levels[["mean", "reference_min", "reference_max"]].to_numpy(float)]
    ours = result.groupby("comparison", sort=False)[["dataset", "verdict"]].first().reset_index()
    theirs = ref.groupby("comparison", sort=False)[["dataset", "verdict"]].first()
    verdicts = []
    for row in ours.itertuples():
        dataset = "" if pd.isna(row.dataset) else str(row.dataset)
        known = row.comparison in theirs.index and theirs.loc[row.comparison, "dataset"] == dataset and dataset
        reference_verdict = str(theirs.loc[row.comparison, "verdict"]) if known else ""
        agrees = ("no reference" if not known or reference_verdict.startswith(NOT_EVALUATED)
                  else "yes" if reference_verdict == row.verdict else "no")
        verdicts.append((row.comparison, dataset, row.verdict, reference_verdict or "–", agrees))
    return levels.reindex(columns=LEVEL_COLUMNS), pd.DataFrame(verdicts, columns=VERDICT_COLUMNS)


def reference_markdown(result: pd.DataFrame, reference: pd.DataFrame | None, source: str | None,
                       programs: pd.DataFrame | None = None) -> list[str]:
    """The section "Against the full-size reference" of `claims.md` (Markdown lines). `source` names where the
    reference was read (its folder; None: none configured); `reference` None says there is none to compare with."""
    lines = ["## Against the full-size reference", ""]
    if source is None:
        return [*lines, "No full-size reference is configured (`reference: null`): this run is compared with none.", ""]
    if reference is None:
        return [*lines, f"No full-size reference was found (`{source}/{REFERENCE_TABLE}`), so this run is compared "
                        "with none.", ""]
    parts = [(result, COMPARISONS)] + ([(programs, PROGRAM_COMPARISONS)] if programs is not None else [])
    levels, verdicts = (pd.concat(frames, ignore_index=True) for frames in
                        zip(*(compare(table, reference) for table, _ in parts)))
    datasets = sorted(set(reference["dataset"].dropna().astype(str)) - {""})
    lines += [f"The reference is the default study's own claims table, `{source}/{REFERENCE_TABLE}` (datasets: "
              f"{', '.join(f'`{d}`' for d in datasets) or 'none'}; how it was made: `{source}/README.md`). "
              "A level of this run is *below* or *above* where its mean lies outside the range of the reference's "
              "seeds at the same β and C_max.", "",
              "| comparison | dataset | this run | full-size reference | same verdict |", "|---|---|---|---|---|"]
    lines += [f"| {r.comparison} | `{r.dataset}` | {r.verdict} | {r.reference_verdict} | {r.agrees} |"
              if r.dataset else f"| {r.comparison} | – | {r.verdict} | – | {r.agrees} |"
              for r in verdicts.itertuples()]
    missing = sorted({r.dataset for r in verdicts.itertuples() if r.dataset and r.dataset not in datasets})
    if missing:
        lines += ["", f"No full-size reference for {', '.join(f'`{d}`' for d in missing)}: the reference did not "
                      "analyse this dataset, so its verdicts stand alone."]
    if not levels.empty:
        outside = levels["position"].isin([BELOW, ABOVE])
        lines += ["", f"{int((~outside).sum())} of {len(levels)} compared levels lie within the reference seeds' range.",
                  "", "| comparison | β | C_max | this run: mean | reference: mean ± sd [seeds' range] | where |",
                  "|---|---:|---:|---:|---|---|"]
        for r in levels.itertuples():
            where = f"**{r.position}**" if r.position in (BELOW, ABOVE) else r.position
            lines.append(f"| {r.comparison} | {r.beta:g} | {r.c_max:g} | {_num(r.mean)} "
                         f"| {_num(r.reference_mean)} ± {_num(r.reference_sd)} "
                         f"[{_num(r.reference_min)}, {_num(r.reference_max)}] ({int(r.reference_seeds)} seeds) "
                         f"| {where} |")
    return [*lines, ""]
