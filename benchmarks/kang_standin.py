"""A simulated stand-in for the Kang et al. (2018) counts, for machines that cannot reach GEO.

    python benchmarks/kang_standin.py OUT.h5ad [--cells 25000] [--genes 2000] [--seed 0]

Kang's shape and factors, not its biology: the simulator of `config.yaml`'s dataset `simulated`
with eight identities named after Kang's eight cell types (`obs["cell"]`) and one activity
program in half of the cells, whose presence is the stimulation (`obs["stim_indicator"]`, 0/1;
`obs["stim"]`, ctrl/stim). It times the Kang arm of the workflow (`benchmarks/gpu_workflow.sh`) as
a `source: h5ad` dataset; its claims and figures say nothing about PBMCs.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _common import config_simulation

from scbeta._io import write_h5ad
from scbeta.simulate import simulate_counts

CELL_TYPES = ["B cells", "CD14+ Monocytes", "CD4 T cells", "CD8 T cells", "Dendritic cells", "FCGR3A+ Monocytes",
              "Megakaryocytes", "NK cells"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--cells", type=int, default=25_000)
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = config_simulation()
    settings.update(n_cells=args.cells, n_genes=args.genes, n_identities=len(CELL_TYPES), n_activities=1,
                    activity_cell_prob=0.5, seed=args.seed)
    adata = simulate_counts(**settings)
    adata.obs.index.name = "barcode"  # "cell" is the cell-type column, as in the Kang loader
    adata.obs["cell"] = pd.Categorical.from_codes(adata.obs["identity"].cat.codes, categories=CELL_TYPES)
    stimulated = adata.obs["activity_00"].to_numpy() > 0
    adata.obs["stim_indicator"] = stimulated.astype(np.float64)
    adata.obs["stim"] = pd.Categorical(np.where(stimulated, "stim", "ctrl"), categories=["ctrl", "stim"])
    adata.uns["standin"] = "simulated stand-in for Kang et al. (2018): benchmarks/kang_standin.py"
    write_h5ad(adata, args.out)
    print(f"{args.out}: {adata.n_obs} cells × {adata.n_vars} genes, {int(stimulated.sum())} stimulated")


if __name__ == "__main__":
    main()
