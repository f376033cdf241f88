"""The workflow's configuration: validation against the schema and the table of runs it asks for."""
from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import yaml

RUN_COLUMNS = ["dataset", "run", "method", "objective", "beta", "c_max", "gamma", "seed"]
BASELINES = ("pca", "ica", "nmf")
OBJECTIVE_NAMES = ("beta", "capacity", "tcvae", "factorvae")
# Keys a sweep entry may add for its objective; they go to the objective unchanged and are
# fixed for the entry (not swept), e.g. a narrower FactorVAE discriminator for a quick run.
OBJECTIVE_OPTIONS = {"tcvae": ("tc_estimator",), "factorvae": ("discriminator_width",)}
# Objectives whose swept γ is one of their keywords (the other objectives weigh their terms by β).
GAMMA_OBJECTIVES = ("factorvae",)
# Keys of `objective_params` that a sweep varies; runs that differ only in these train in one job.
SWEPT_OBJECTIVE_KEYS = ("gamma",)


class ConfigError(ValueError):
    """A config value that the schema or the workflow does not accept."""


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def validate(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Check `config` against the JSON schema (YAML) at `schema_path`.

    Raises ConfigError with one line naming the key, the value and what is allowed.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        raise ConfigError(f"config key {_where(error)}: unknown key(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(allowed)}")
    if isinstance(error.instance, (dict, list)):
        raise ConfigError(f"config key {_where(error)}: {error.message}")
    raise ConfigError(f"config key {_where(error)} = {error.instance!r}: {error.message}")


def run_id(method: str, objective: str | None, beta: float, c_max: float, gamma: float, seed: int) -> str:
    """The name of one run, used in file names: e.g. `beta_beta10_cmax0_seed0`, `pca_seed0`."""
    if method != "vae":
        return f"{method}_seed{seed}"
    if objective == "factorvae":
        return f"factorvae_gamma{gamma:g}_seed{seed}"
    return f"{objective}_beta{beta:g}_cmax{c_max:g}_seed{seed}"


def enabled_datasets(config: Mapping[str, Any]) -> list[str]:
    """Names of the datasets the workflow analyses (those not set `enabled: false`)."""
    return [name for name, spec in config["datasets"].items() if spec.get("enabled", True)]


def _entry_options(dataset: str, position: int, entry: Mapping[str, Any]) -> dict[str, Any]:
    """Check a sweep entry against its objective; return the objective keywords it fixes (see OBJECTIVE_OPTIONS)."""
    objective = entry["objective"]
    where = f"config key datasets.{dataset}.sweep.{position}"
    if objective == "beta" and any(c > 0 for c in entry.get("c_max", [0.0])):
        raise ConfigError(f"{where}: objective 'beta' takes no c_max > 0; use objective 'capacity'")
    allowed = OBJECTIVE_OPTIONS.get(objective, ())
    options = {key: entry[key] for keys in OBJECTIVE_OPTIONS.values() for key in keys if key in entry}
    misplaced = sorted(set(options) - set(allowed))
    if misplaced:
        raise ConfigError(f"{where}: objective {objective!r} takes no {', '.join(misplaced)}"
                          f" (allowed: {', '.join(allowed) or 'none'})")
    return options


def expand_runs(config: Mapping[str, Any]) -> pd.DataFrame:
    """One row per run of every enabled dataset: its sweep (objective × β × C_max × γ × seed) and baselines.

    Columns are `RUN_COLUMNS` and `objective_params` (the keywords the run's objective takes
    beyond β and C_max, a dict: the sweep entry's fixed options and FactorVAE's γ); `run` is
    unique within a dataset.
    """
    records = []
    for dataset in enabled_datasets(config):
        spec = config["datasets"][dataset]
        seeds = spec.get("seeds", config["seeds"])
        for position, entry in enumerate(spec["sweep"]):
            options = _entry_options(dataset, position, entry)
            grid = itertools.product(entry.get("beta", [1.0]), entry.get("c_max", [0.0]),
                                     entry.get("gamma", [0.0]), seeds)
            for beta, c_max, gamma, seed in grid:
                swept = {"gamma": float(gamma)} if entry["objective"] in GAMMA_OBJECTIVES else {}
                records.append({"dataset": dataset, "method": "vae", "objective": entry["objective"],
                                "beta": float(beta), "c_max": float(c_max), "gamma": float(gamma), "seed": int(seed),
                                "objective_params": {**options, **swept}})
        for method in spec.get("baselines", []):
            records.extend({"dataset": dataset, "method": method, "objective": "", "beta": 0.0, "c_max": 0.0,
                            "gamma": 0.0, "seed": int(seed), "objective_params": {}} for seed in seeds)
    columns = [c for c in RUN_COLUMNS if c != "run"] + ["objective_params"]
    table = pd.DataFrame.from_records(records, columns=columns)
    table.insert(1, "run", [run_id(r.method, r.objective, r.beta, r.c_max, r.gamma, r.seed)
                            for r in table.itertuples()])
    for (dataset, run), rows in table.groupby(["dataset", "run"]):
        if any(params != rows["objective_params"].iloc[0] for params in rows["objective_params"]):
            raise ConfigError(f"config key datasets.{dataset}.sweep: run {run} appears in two entries with "
                              f"different settings {rows['objective_params'].tolist()}; give it one")
    return table.drop_duplicates(["dataset", "run"]).reset_index(drop=True)


def group_runs(runs: pd.DataFrame, models_per_job: int) -> pd.DataFrame:
    """`runs` (as from `expand_runs`) with a `group` column: the training job of each VAE run.

    Within a dataset, the runs of one objective with the same fixed options (`objective_params`
    other than `SWEPT_OBJECTIVE_KEYS`) are cut, in the table's (sweep) order, into groups of at
    most `models_per_job` runs. Groups are named `<objective>_g<k>`, k counting the objective's
    groups in the dataset from 0; baselines, which train nothing, get "".
    """
    if models_per_job < 1:
        raise ConfigError(f"config key training.models_per_job = {models_per_job!r}: expected an integer >= 1")
    groups = pd.Series("", index=runs.index, dtype=object)
    for _, rows in runs[runs["method"] == "vae"].groupby("dataset", sort=False):
        members: dict[tuple[str, str], list[Any]] = {}
        for index, row in rows.iterrows():
            fixed = {k: v for k, v in row["objective_params"].items() if k not in SWEPT_OBJECTIVE_KEYS}
            members.setdefault((row["objective"], json.dumps(fixed, sort_keys=True)), []).append(index)
        chunks_of: Counter[str] = Counter()
        for (objective, _), indices in members.items():
            for start in range(0, len(indices), models_per_job):
                groups[indices[start:start + models_per_job]] = f"{objective}_g{chunks_of[objective]}"
                chunks_of[objective] += 1
    return runs.assign(group=groups)


def training_runs(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The runs of one group as `scbeta.model.fit_many` takes them, in the order of `rows`."""
    return [{"objective": str(r.objective), "beta": float(r.beta), "c_max": float(r.c_max), "seed": int(r.seed),
             "objective_params": dict(r.objective_params)} for r in rows.itertuples()]


def check_datasets(config: Mapping[str, Any]) -> None:
    """Check each enabled dataset's own requirements beyond the schema, before any job starts.

    A user's .h5ad must exist, hold counts and have its factor and identity columns; a simulated
    dataset's factors must be programs the simulator makes. Raises one-line ValueErrors.
    """
    from scbeta.data import check_dataset_h5ad
    from scbeta.simulate import SimulationParams

    for name in enabled_datasets(config):
        spec = config["datasets"][name]
        if spec["source"] == "h5ad":
            columns = [*spec["factors"], *([spec["identity"]] if spec.get("identity") else [])]
            check_dataset_h5ad(spec["path"], layer=spec.get("layer"), columns=columns, name=name)
        elif spec["source"] == "simulate":
            if spec.get("max_cells") is not None:
                raise ConfigError(f"config key datasets.{name}.max_cells: a simulated dataset takes its "
                                  "number of cells from simulate.n_cells")
            params = spec.get("simulate", {})
            n_identities = params.get("n_identities", SimulationParams.n_identities)
            n_activities = params.get("n_activities", SimulationParams.n_activities)
            known = ([f"identity_{k:02d}" for k in range(n_identities)]
                     + [f"activity_{k:02d}" for k in range(n_activities)] + ["identity"])
            unknown = [f for f in spec["factors"] if f not in known]
            if unknown:
                raise ConfigError(f"config key datasets.{name}.factors: {unknown} are not simulated; "
                                  f"the simulator makes {known}")
