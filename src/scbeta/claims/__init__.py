"""The preprint's three claims, tested against this reproduction's metric tables.

Kimmel (2020) claims that disentangling objectives (larger β, capacity C_max > 0)

1. align latent dimensions better with the generative factors of simulated data,
2. align them better with the stimulation and with cell identity on the Kang et al. (2018) PBMCs,
3. but make cell-type clustering of the latent space worse.

Each claim is split into comparisons (`COMPARISONS`, in `evaluation`). A comparison reduces every
trained model (one per seed) to one number, then compares the models at each level (β, or C_max)
with those at the reference level (β = 1, or C_max = 0 at the same β):

- per level: mean across seeds with a 95 % confidence interval that stays within the metric's
  range (`scbeta.stats.mean_ci`), and the seeds' spread;
- effect: difference of means (compared − reference) with a two-sided 95 % Welch–Satterthwaite CI;
- test: Welch's unequal-variance t-test, one-sided in the predicted direction. Seeds are
  independent replicate trainings (independent samples), there are few of them, and the spread
  across seeds differs between levels (Fig. 3B has far wider intervals at β ≤ 1.5), so the
  pooled-variance t-test does not fit. A permutation test would need no normality, but with
  3 vs 3 seeds its smallest one-sided p-value is 1/20 = 0.05: it could never reject after
  correction.
- correction: Holm–Bonferroni over all compared levels of a comparison (family-wise error ≤ α,
  valid under any dependence — the tests share the reference models — and never less powerful
  than Bonferroni). The opposite direction is tested and corrected the same way.

The modules: `decision` (the decision rule: verdicts, collapsed levels, stability over seed
subsets), `evaluation` (the comparisons on metric tables), `render` (claims.md, its HTML page,
the report's summary) and `reference` (this run against the full-size reference).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from scbeta.claims.decision import (ALPHA, DEPENDS, INCONCLUSIVE, MIN_SEEDS, NOT_EVALUATED, NOT_REPRODUCED,
                                    REPRODUCED, STANDS, claim_verdict, decide, decision_rule, seed_subsets,
                                    stability, verdict)
from scbeta.claims.evaluation import (CLAIMS, COLUMNS, COMPARISONS, PROGRAM_COMPARISONS, Comparison,
                                      evaluate_claims, evaluate_comparison, evaluate_programs, run_values)
from scbeta.claims.reference import compare, read_reference, reference_markdown
from scbeta.claims.render import (claims_html, claims_markdown, claims_summary_rst, program_recovery_markdown,
                                  verdict_text)


def write_claims(markdown: str | os.PathLike, table: str | os.PathLike | None = None,
                 simulated: str | os.PathLike | None = None, real: str | os.PathLike | None = None,
                 *, html: str | os.PathLike | None = None, summary: str | os.PathLike | None = None,
                 reduced: str = "", data: Sequence[Mapping[str, Any]] = (),
                 reference: str | os.PathLike | None = None, alpha: float = ALPHA, min_seeds: int = MIN_SEEDS) -> None:
    """Read the datasets' metric tables (None: not analysed), evaluate the claims once, and write `claims.md`
    and, where given, the table (claims and gene-program comparisons), the HTML page and the report's
    reStructuredText summary.

    `data` describes the datasets as used (`scbeta.data.describe_counts`); `reference` is the folder of the
    full-size reference (`reference.REFERENCE_TABLE` inside), compared against where it exists.
    """
    from scbeta._io import atomic_path, read_tsv, write_tsv

    sim = read_tsv(simulated) if simulated is not None else None
    kang = read_tsv(real) if real is not None else None
    result = evaluate_claims(sim, kang, alpha=alpha, min_seeds=min_seeds)
    programs = evaluate_programs(sim, kang, alpha=alpha, min_seeds=min_seeds)
    full_size = read_reference(reference)
    against = reference_markdown(result, full_size, os.fspath(reference) if reference is not None else None, programs)
    text = claims_markdown(result, programs=programs, alpha=alpha, min_seeds=min_seeds, reduced=reduced, data=data,
                           against_reference=against)
    verdicts = compare(result, full_size)[1] if full_size is not None else None
    outputs = {markdown: text, html: claims_html(text) if html is not None else None,
               summary: claims_summary_rst(result, reduced, data, verdicts) if summary is not None else None}
    for path, content in outputs.items():
        if path is not None:
            with atomic_path(path) as tmp:
                tmp.write_text(content)
    if table is not None:  # the claims' rows, then the gene-program comparisons' (claim 0)
        import pandas as pd

        write_tsv(pd.concat([result, programs], ignore_index=True), table,
                  {"alpha": alpha, "min_seeds": min_seeds, "reduced": reduced})


__all__ = ["ALPHA", "MIN_SEEDS", "REPRODUCED", "NOT_REPRODUCED", "INCONCLUSIVE", "NOT_EVALUATED", "STANDS",
           "DEPENDS", "CLAIMS", "COLUMNS", "COMPARISONS", "PROGRAM_COMPARISONS", "Comparison", "verdict", "decide",
           "decision_rule", "claim_verdict", "seed_subsets", "stability", "run_values", "evaluate_comparison",
           "evaluate_claims", "evaluate_programs", "claims_markdown", "claims_html", "claims_summary_rst",
           "program_recovery_markdown", "verdict_text", "compare", "read_reference", "reference_markdown",
           "write_claims"]
