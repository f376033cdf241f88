"""What every workflow job gets from `scbeta.pipeline`: its share of the cores, and no import it does not need."""
import subprocess
import sys

import pytest

from scbeta import pipeline


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
    assert _python("import sys, scbeta, scbeta.pipeline, scbeta.metrics; print('torch' in sys.modules)") == "False"
    assert _python("import sys, scbeta; scbeta.fit; print('torch' in sys.modules)") == "True"


def test_a_training_group_needs_one_model_path_per_run(tmp_path):
    run = {"objective": "beta", "beta": 1.0, "c_max": 0.0, "seed": 0, "objective_params": {}}
    with pytest.raises(ValueError, match="one model path and one history path per run; got 2 runs"):
        pipeline.train_group(counts=str(tmp_path / "missing.h5ad"), models=["m/a/model.pt"],
                             histories=["m/a/history.tsv"], checkpoint=str(tmp_path / "ckpt"),
                             runs=[run, run], training={})
