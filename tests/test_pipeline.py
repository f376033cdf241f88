"""What every workflow job gets from `scbeta.pipeline`: its share of the cores, and no import it does not need."""
import subprocess
import sys

import pytest

from scbeta.pipeline import train


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_a_job_uses_only_its_threads_in_torch_blas_and_openmp():
    out = _python(
        "from scbeta.pipeline import limit_threads\n"
        "limit_threads(1)\n"
        "import sklearn.ensemble, torch\n"  # loaded after the limit: they must honour it too
        "from threadpoolctl import threadpool_info\n"
        "print(torch.get_num_threads(), sorted({pool['num_threads'] for pool in threadpool_info()}))\n")
    assert out == "1 [1]"


def test_jobs_that_do_not_train_do_not_import_torch():
    steps = ", ".join(f"scbeta.pipeline.{name}" for name in ("simulate", "data", "train", "evaluate", "programs",
                                                             "figures", "report"))
    assert _python(f"import sys, scbeta, {steps}, scbeta.metrics; print('torch' in sys.modules)") == "False"
    assert _python("import sys, scbeta; scbeta.fit; print('torch' in sys.modules)") == "True"


def test_a_training_group_needs_one_model_path_per_run(tmp_path):
    run = {"objective": "beta", "beta": 1.0, "c_max": 0.0, "seed": 0, "objective_params": {}}
    with pytest.raises(ValueError, match="one model path and one history path per run; got 2 runs"):
        train.train_group(counts=str(tmp_path / "missing.h5ad"), models=["m/a/model.pt"],
                             histories=["m/a/history.tsv"], checkpoint=str(tmp_path / "ckpt"),
                             runs=[run, run], training={})


def test_a_baseline_latent_keeps_the_loadings_that_map_genes_to_its_dimensions(tmp_path, small_counts):
    import anndata as ad
    import numpy as np

    from scbeta.baselines import log_normalise

    counts, latent = tmp_path / "counts.h5ad", tmp_path / "pca_seed0.h5ad"
    small_counts.write_h5ad(counts)
    run = {"dataset": "d", "run": "pca_seed0", "method": "pca", "objective": "", "beta": 0.0, "c_max": 0.0,
           "gamma": 0.0, "seed": 0}
    train.baseline(counts=str(counts), latent=str(latent), run=run, n_components=4)
    out = ad.read_h5ad(latent)
    loadings = out.uns["loadings"]
    assert loadings.shape == (small_counts.n_vars, 4)
    assert out.uns["converged"] is True or out.uns["converged"] == 1  # PCA is solved exactly
    # PCA: the latent is the centred log-normalised counts projected on the loadings
    data = log_normalise(small_counts.X).toarray()
    projected = (data - data.mean(axis=0)) @ loadings
    np.testing.assert_allclose(projected, out.obsm["X_latent"], rtol=1e-3, atol=1e-3)


def test_each_rule_script_calls_a_step_of_the_module_named_after_its_rule_file():
    import importlib
    import re
    from pathlib import Path

    workflow = Path(__file__).resolve().parents[1] / "workflow"
    rule_files = {path.stem: path.read_text() for path in (workflow / "rules").glob("*.smk")}
    scripts = sorted((workflow / "scripts").glob("*.py"))
    assert scripts
    for script in scripts:
        module, function = re.search(r"^(\w+)\.(\w+)\(\*\*rule_args\(snakemake\)\)", script.read_text(), re.M).groups()
        assert [stem for stem, text in rule_files.items() if f'"../scripts/{script.name}"' in text] == [module]
        assert callable(getattr(importlib.import_module(f"scbeta.pipeline.{module}"), function))


def test_known_program_genes_come_from_the_simulator_and_the_gene_sets():
    import pandas as pd

    from scbeta.pipeline.programs import known_program_genes

    var = pd.DataFrame({"identity_00_gene": [True, False, False], "activity_00_gene": [False, False, False]},
                       index=["g0", "g1", "g2"])
    known = known_program_genes(var, ["identity_00", "activity_00", "stim", "cell"], {"stim": ["g2", "other"]})
    assert known == {"identity_00": ["g0"], "stim": ["g2"]}  # no program genes, or none known: left out
