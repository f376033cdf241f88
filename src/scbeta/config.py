"""The workflow's configuration: validation against the schema and the table of runs it asks for."""
from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import yaml

from scbeta.registry import OBJECTIVES, RUN_COLUMNS, run_name, schema_enums


class ConfigError(ValueError):
    """A config value that the schema or the workflow does not accept."""


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def validate(config: Mapping[str, Any], schema_path: str | Path) -> None:
    """Check `config` against the JSON schema (YAML) at `schema_path`.

    The schema's definitions of objective, baseline and source names come from `scbeta.registry`.
    Raises ConfigError with one line naming the key, the value and what is allowed.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    schema["definitions"].update(schema_enums())
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


def enabled_datasets(config: Mapping[str, Any]) -> list[str]:
    """Names of the datasets the workflow analyses (those not set `enabled: false`)."""
    return [name for name, spec in config["datasets"].items() if spec.get("enabled", True)]


def _entry_options(dataset: str, position: int, entry: Mapping[str, Any]) -> dict[str, Any]:
    """Check a sweep entry against its objective; return the objective keywords it fixes (its `options`
    in `scbeta.registry.OBJECTIVES`)."""
    objective = entry["objective"]
    where = f"config key datasets.{dataset}.sweep.{position}"
    if "c_max" not in OBJECTIVES[objective].weights and any(c > 0 for c in entry.get("c_max", [0.0])):
        with_capacity = [name for name, info in OBJECTIVES.items() if "c_max" in info.weights]
        raise ConfigError(f"{where}: objective {objective!r} takes no c_max > 0; use objective "
                          f"{' or '.join(map(repr, with_capacity))}")
    allowed = OBJECTIVES[objective].options
    options = {key: entry[key] for info in OBJECTIVES.values() for key in info.options if key in entry}
    misplaced = sorted(set(options) - set(allowed))
    if misplaced:
        raise ConfigError(f"{where}: objective {objective!r} takes no {', '.join(misplaced)}"
                          f" (allowed: {', '.join(allowed) or 'none'})")
    return options


def expand_runs(config: Mapping[str, Any]) -> pd.DataFrame:
    """One row per run of every enabled dataset: its sweep (objective × β × C_max × γ × seed) and baselines.

    Columns are `RUN_COLUMNS` and `objective_params` (the sweep entry's fixed objective keywords,
    a dict); `run` is unique within a dataset.
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
                records.append({"dataset": dataset, "method": "vae", "objective": entry["objective"],
                                "beta": float(beta), "c_max": float(c_max), "gamma": float(gamma), "seed": int(seed),
                                "objective_params": options})
        for method in spec.get("baselines", []):
            records.extend({"dataset": dataset, "method": method, "objective": "", "beta": 0.0, "c_max": 0.0,
                            "gamma": 0.0, "seed": int(seed), "objective_params": {}} for seed in seeds)
    columns = [c for c in RUN_COLUMNS if c != "run"] + ["objective_params"]
    table = pd.DataFrame.from_records(records, columns=columns)
    table.insert(1, "run", [run_name(r.method, r.objective, r.beta, r.c_max, r.gamma, r.seed)
                            for r in table.itertuples()])
    for (dataset, run), rows in table.groupby(["dataset", "run"]):
        if any(params != rows["objective_params"].iloc[0] for params in rows["objective_params"]):
            raise ConfigError(f"config key datasets.{dataset}.sweep: run {run} appears in two entries with "
                              f"different settings {rows['objective_params'].tolist()}; give it one")
    return table.drop_duplicates(["dataset", "run"]).reset_index(drop=True)


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
