"""`evaluate_claims`' table as text: `claims.md` (Markdown), its HTML page, and the report's summary (reST)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from scbeta.claims.decision import (ALPHA, DEPENDS, MIN_SEEDS, NOT_EVALUATED, STANDS, SUBSET_SEEDS, decision_rule,
                                    stability_text)
from scbeta.claims.evaluation import (CLAIMS, COMPARISONS, LEVEL_LABEL, PROGRAM_COMPARISONS, RUNS_LABEL,
                                      Comparison)
from scbeta.metrics.activity import ACTIVITY_THRESHOLD, MIN_ACTIVE_UNITS
from scbeta.stats import CONFIDENCE

NOT_INTERPRETABLE = "not interpretable (collapsed)"


def _num(x: float, signed: bool = False) -> str:
    if pd.isna(x):
        return "–"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _with_ci(mean: float, lo: float, hi: float, signed: bool = False) -> str:
    if pd.isna(mean):
        return "–"
    if pd.isna(lo):
        return _num(mean, signed)
    return f"{_num(mean, signed)} [{_num(lo, signed)}, {_num(hi, signed)}]"


def _p(p: float) -> str:
    if pd.isna(p):
        return "–"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _read_off(x: float) -> str:
    """A read-off value with the digits it was read with (0.70, 0.819), not padded to three."""
    text = f"{x:.3f}"
    return text[:-1] if text.endswith("0") else text


def _range(lo: float, hi: float) -> str:
    if pd.isna(lo):
        return "–"
    return _read_off(lo) if lo == hi else f"{_read_off(lo)}–{_read_off(hi)}"


def _active(mean: float, n_collapsed: float) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.1f} ({int(n_collapsed)})"


def _set_aside_levels(rows: pd.DataFrame, comparison: Comparison) -> str:
    """The levels left out as collapsed, e.g. "β = 30, 50" or "C_max = 10 at β = 30, 50"."""
    aside = rows[rows["set_aside"].fillna(False).astype(bool)]
    varied = ", ".join(f"{v:g}" for v in aside[comparison.level].unique())
    text = f"{LEVEL_LABEL[comparison.level]} = {varied}"
    held = aside[comparison.stratum].unique()
    if comparison.level == "c_max" or len(held) > 1:
        text += f" at {LEVEL_LABEL[comparison.stratum]} = {', '.join(f'{v:g}' for v in sorted(held))}"
    return text if not aside.empty else ""


def verdict_text(rows: pd.DataFrame, comparison: Comparison, short: bool = False) -> str:
    """The comparison's verdict with what collapsed levels do to it (`scbeta.claims.decision.decide`)."""
    first = rows.iloc[0]
    levels = _set_aside_levels(rows, comparison)
    if first["collapse"] == STANDS:
        return f"{first['verdict']} (stands without the levels set aside as collapsed: {levels})" if short else (
            f"{first['verdict']}; it stands without the collapsed levels ({levels}), which were set aside")
    if first["collapse"] == DEPENDS:
        return (f"{first['verdict']} ({DEPENDS}: without {levels}, {first['without_collapsed']})" if short else
                f"{first['verdict']}; it {DEPENDS}: without the collapsed levels ({levels}) it is "
                f"{first['without_collapsed']}")
    return str(first["verdict"])


def _stability(rows: pd.DataFrame, column: str = "stability") -> str:
    first = rows.iloc[0]
    if str(first["verdict"]).startswith(NOT_EVALUATED):
        return "–"
    n_subsets = 0 if pd.isna(first["n_subsets"]) else int(first["n_subsets"])
    n_seeds = int(rows["n_seeds"].max()) if rows["n_seeds"].notna().any() else 0
    return stability_text(float(first[column]), n_subsets, n_seeds)


def _comparison_markdown(rows: pd.DataFrame, comparison: Comparison, alpha: float) -> list[str]:
    verdict = rows["verdict"].iloc[0]
    dataset = rows["dataset"].iloc[0]
    lines = [f"### {comparison.key}. {comparison.description}", "",
             (f"Dataset `{dataset}`. " if isinstance(dataset, str) and dataset else "")
             + f"Runs: {RUNS_LABEL[comparison.runs]}. Per run: {comparison.value}. "
             f"Predicted: {comparison.direction} "
             f"from {LEVEL_LABEL[comparison.level]} = {comparison.reference:g}.", ""]
    if verdict.startswith(NOT_EVALUATED):
        return [*lines, f"**Verdict: {verdict}**", ""]
    ref = "β = 1" if comparison.level == "beta" else "C_max = 0, same β"
    # Significant (Holm-adjusted) p-values in bold, so the verdict can be traced to its rows.
    lines += [f"| β | C_max | seeds | active dims (collapsed seeds) | ours: mean [95 % CI] | seeds' range | preprint "
              f"| effect vs {ref} [95 % CI] | p (one-sided) | p (Holm) | p opposite (Holm) |",
              "|---:|---:|---:|---:|---|---|---|---|---:|---:|---:|"]
    for row in rows.itertuples():
        p_holm, p_opposite = (f"**{_p(p)}**" if p < alpha else _p(p) for p in (row.p_holm, row.p_opposite_holm))
        ours = _with_ci(row.mean, row.ci_low, row.ci_high)
        if bool(row.level_collapsed):
            ours += f" — *{NOT_INTERPRETABLE}*"
        lines.append(f"| {row.beta:g} | {row.c_max:g} | {int(row.n_seeds)} | {_active(row.active_units, row.n_collapsed)} "
                     f"| {ours} | {_num(row.seed_min)}–{_num(row.seed_max)} "
                     f"| {_range(row.preprint_low, row.preprint_high)} "
                     f"| {_with_ci(row.effect, row.effect_ci_low, row.effect_ci_high, signed=True)} "
                     f"| {_p(row.p_value)} | {p_holm} | {p_opposite} |")
    lines += ["", f"Active dims: mean over seeds of the latent dimensions whose posterior mean varies across "
                  f"cells (variance > {ACTIVITY_THRESHOLD:g}); in brackets the seeds with fewer than "
                  f"{MIN_ACTIVE_UNITS} (collapsed)."]
    if comparison.preprint_note:
        lines += ["", f"Preprint: {comparison.preprint_note}"]
    return [*lines, "", f"**Verdict: {verdict_text(rows, comparison)}**. Stability: {_stability(rows)}.", ""]


DATA_COLUMNS = ["dataset", "source", "cells", "genes", "donors", "cell-type labels"]


def _data_row(d: Mapping[str, Any]) -> list[str]:
    """One dataset's cells of the "Data as used" table; "–" for a count the data do not have."""
    counts = [d.get(key) for key in ("cells", "genes", "donors", "labels")]
    return [str(d["dataset"]), str(d["source"]), *("–" if n is None else f"{n:,}" for n in counts)]


def data_markdown(datasets: Sequence[Mapping[str, Any]]) -> list[str]:
    """The section "Data as used": per dataset the cells, genes, donors and labels the models were trained on,
    and where the counts came from (`scbeta.data.describe_counts`' dicts)."""
    if not datasets:
        return []
    lines = ["## Data as used", "", f"| {' | '.join(DATA_COLUMNS)} |", "|---|---|---:|---:|---:|---:|"]
    for d in datasets:
        dataset, *rest = _data_row(d)
        lines.append(f"| `{dataset}` | {' | '.join(rest)} |")
    return [*lines, ""]


def claims_markdown(result: pd.DataFrame, *, programs: pd.DataFrame | None = None, alpha: float = ALPHA,
                    min_seeds: int = MIN_SEEDS, reduced: str = "", data: Sequence[Mapping[str, Any]] = (),
                    against_reference: Sequence[str] = ()) -> str:
    """A complete `claims.md` from `evaluate_claims`' table: the reduced-configuration note (if any), the data
    as used, the summary, the comparison with the full-size reference (`against_reference`, Markdown lines),
    the test and why, the decision rule, then per claim its tables and verdicts, and, with `programs`
    (`evaluate_programs`' table), the gene-program section."""
    level = f"{CONFIDENCE:.0%}".replace("%", " %")
    lines = ["# The preprint's claims, tested on this reproduction", ""]
    if reduced:
        lines += [f"> **{reduced}**", ""]
    lines += [
        "Kimmel (2020), *Disentangling latent representations of single cell RNA-seq experiments*. "
        "Each claim is split into comparisons; each comparison reduces every trained model (one per seed) "
        "to one number and compares the models at each β (or C_max) with those at the reference "
        "(β = 1, scVI's ELBO; or C_max = 0 at the same β). Baselines (PCA, ICA, NMF) are not part of the claims.",
        "",
        *data_markdown(data),
        "## Summary", "",
        f"| claim | comparison | verdict | stability ({SUBSET_SEEDS}-seed subsets) |", "|---:|---|---|---|",
    ]
    for comparison in COMPARISONS:
        rows = result[result["comparison"] == comparison.key]
        lines.append(f"| {comparison.claim} | {comparison.key}. {comparison.description} "
                     f"| {verdict_text(rows, comparison, short=True)} | {_stability(rows)} |")
    lines += ["", *against_reference]
    lines += [
        "## Test", "",
        "- **Welch's unequal-variance t-test, one-sided** in the direction the preprint predicts, for each "
        "compared level against the reference. Seeds are independent replicate trainings, so the groups are "
        "independent samples; there are few of them; and their spread differs between β values "
        "(Fig. 3B shows much wider intervals at β ≤ 1.5), so the pooled-variance t-test does not fit. "
        "A permutation test would drop the normality assumption, but with 3 vs 3 seeds its smallest "
        "one-sided p-value is 1/20 = 0.05, so it could never reject after correction.",
        "- **Holm–Bonferroni correction** across the compared levels of one comparison (family-wise error "
        f"≤ α = {alpha:g}; valid although all tests share the reference models; never less powerful than "
        "Bonferroni). The opposite direction is tested and corrected the same way.",
        f"- Our values: mean across seeds with a {level} CI. For a metric bounded on both sides (|r|, balanced "
        "accuracy, ARI, AUROC) the Student-t interval is taken on the logit scale of the metric's range and mapped "
        "back, so it never leaves the range; otherwise it is the plain Student-t interval. Seeds' range: the "
        f"lowest and the highest seed. Effect: difference of means (compared − reference) with a two-sided {level} "
        "Welch–Satterthwaite CI.",
        "- Preprint values were read off its figures by eye; they are shown beside ours, not tested.",
        "",
        "## Decision rule", "",
        "Per comparison:", "",
        *decision_rule(alpha, min_seeds), "",
    ]
    for claim, text in CLAIMS.items():
        claim_rows = result[result["claim"] == claim]
        lines += [f"## Claim {claim}", "", f"> {text}", ""]
        for comparison in (c for c in COMPARISONS if c.claim == claim):
            lines += _comparison_markdown(claim_rows[claim_rows["comparison"] == comparison.key], comparison,
                                          alpha)
        lines += [f"**Claim {claim}: {claim_rows['claim_verdict'].iloc[0]}**. Stability: "
                  f"{_stability(claim_rows, 'claim_stability')}.", ""]
    if programs is not None:
        lines += program_recovery_markdown(programs, alpha)
    return "\n".join(lines)


def claims_html(markdown_text: str) -> str:
    """`claims.md` as a standalone HTML page. A literal `<` in the text is escaped first, so that it is
    shown rather than read as the start of an HTML tag."""
    import markdown as md

    body = md.markdown(markdown_text.replace("<", "&lt;"), extensions=["tables"])
    return ("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Claims of the preprint</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head>"
            f"<body>{body}</body></html>\n")


def _rst_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        # "3." would open a numbered list in reStructuredText: a leading number's dot is escaped.
        lines += [f"   {'*' if i == 0 else ' '} - {cell}" for i, cell in enumerate(row)]
    return [*lines, ""]


def claims_summary_rst(result: pd.DataFrame, reduced: str = "", data: Sequence[Mapping[str, Any]] = (),
                       against_reference: pd.DataFrame | None = None) -> str:
    """The report's landing page as reStructuredText: the reduced-configuration note (if any), the data as
    used, one row per comparison with its verdict and stability, and the verdicts of the full-size reference
    (`scbeta.claims.reference.compare`' verdict table)."""
    lines = [f".. warning:: {reduced}", ""] if reduced else []
    if data:
        lines += _rst_table("Data as used", DATA_COLUMNS, [_data_row(d) for d in data])
    rows = []
    for comparison in COMPARISONS:
        part = result[result["comparison"] == comparison.key]
        rows.append([str(comparison.claim), f"{comparison.key}\\. {comparison.description}",
                     verdict_text(part, comparison, short=True), _stability(part)])
    lines += _rst_table("The preprint's claims, tested (details: claims.html under Claims)",
                        ["claim", "comparison", "verdict", "stability"], rows)
    if against_reference is not None:
        lines += _rst_table("Against the full-size reference (details: claims.html)",
                            ["comparison", "this run", "full-size reference", "same verdict"],
                            [[f"{r.comparison}\\.", r.verdict, r.reference_verdict, r.agrees]
                             for r in against_reference.itertuples()])
    return "\n".join(lines)


def program_recovery_markdown(programs: pd.DataFrame, alpha: float = ALPHA) -> list[str]:
    """The section of `claims.md` on gene programs, from `evaluate_programs`' table."""
    lines = ["## Beyond the preprint: gene programs", "",
             "Does the dimension matched to a factor (max |corr|) also carry the factor's genes? Each dimension's "
             "gene program is its decoder traversal (log2 fold change of every gene's expected expression across "
             "the dimension's observed range, `scbeta.tl.gene_programs`); its ranking of genes by |score| is scored "
             "by AUROC against the simulator's program genes, or on real data against a gene set "
             "(`datasets.<name>.gene_sets`). Same tests and decision rule as above.", ""]
    for comparison in PROGRAM_COMPARISONS:
        lines += _comparison_markdown(programs[programs["comparison"] == comparison.key], comparison, alpha)
    return lines
