"""The steps of `workflow/rules/report.smk`: the claims checked on the metric tables, and the study's provenance."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from scbeta._io import atomic_path, write_tsv
from scbeta.pipeline import logged

PROVENANCE_PACKAGES = ("scbeta", "torch", "numpy", "scipy", "pandas", "anndata", "scanpy", "scikit-learn",
                       "matplotlib", "seaborn", "leidenalg", "igraph", "snakemake")


@logged
def claims(*, markdown: str, html: str, table: str, summary: str, simulated: str | None = None,
           real: str | None = None, counts: Sequence[str] = (), datasets: Mapping[str, Mapping[str, Any]] | None = None,
           reference: str | None = None, reference_table: Sequence[str] = (), reduced: str = "") -> None:
    """Check the preprint's three claims against the metric tables: `claims.md`, its HTML page, a TSV and
    the report's landing-page summary; `reduced` (see `scbeta.config.reduced_configuration`) heads each.

    `counts[i]` is the counts file of the i-th of `datasets` (name → config entry): their cells and genes
    are reported as used. `reference` is the full-size reference's folder (None: no comparison);
    `reference_table` (its claims table) is an input only so that a changed reference reruns the step.
    """
    from scbeta.claims import write_claims
    from scbeta.data import describe_counts

    data = [describe_counts(path, name, spec) for path, (name, spec) in zip(counts, (datasets or {}).items())]
    write_claims(markdown, table, simulated=simulated, real=real, html=html, summary=summary, reduced=reduced,
                 data=data, reference=reference)


@logged
def provenance(*, versions: str, config_used: str, config: Mapping[str, Any]) -> None:
    """The versions of Python and of the packages the study ran with, and the config it ran with."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import yaml

    from scbeta.lock import lock_summary

    rows = [("python", platform.python_version())]
    for package in PROVENANCE_PACKAGES:
        try:
            rows.append((package, version(package)))
        except PackageNotFoundError:
            rows.append((package, "not installed"))
    rows.append(("platform", platform.platform()))
    rows.append(("lock", lock_summary()))  # whether these versions are the lock file's
    write_tsv(pd.DataFrame(rows, columns=["package", "version"]), versions)
    with atomic_path(config_used) as tmp:
        tmp.write_text(yaml.safe_dump(dict(config), sort_keys=False))
