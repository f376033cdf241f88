"""The workflow's configuration: validation against the schema and the table of runs it asks for."""
from __future__ import annotations

import itertools
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
    table.insert(1, "run", [run_id(r.method, r.objective, r.beta, r.c_max, r.gamma, r.seed)
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


REDUCED_SUFFIX = "the full study's answers may differ"


def _count(value: Any) -> str:
    return "all" if value is None else f"{value:,}"


def _sweep_size(sweep: list[Mapping[str, Any]]) -> int:
    """Settings (objective × β × C_max × γ) in a sweep, seeds not counted."""
    return sum(len(e.get("beta", [1.0])) * len(e.get("c_max", [0.0])) * len(e.get("gamma", [0.0])) for e in sweep)


def _changes(used: Mapping[str, Any], default: Mapping[str, Any], keys: tuple[tuple[str, str], ...]) -> list[str]:
    """'<what, with the value> (default <value>)' for each `(key, what)` whose value differs from the default."""
    return [f"{what.format(_count(used.get(key)))} (default {_count(default.get(key))})"
            for key, what in keys if key in used and used.get(key) != default.get(key)]


def _dataset_changes(used: Mapping[str, Any], default: Mapping[str, Any]) -> list[str]:
    parts = []
    sim, sim_default = used.get("simulate", {}), default.get("simulate", {})
    cells, genes = sim.get("n_cells"), sim.get("n_genes")
    cells_default, genes_default = sim_default.get("n_cells"), sim_default.get("n_genes")
    if (cells, genes) != (cells_default, genes_default) and used.get("source") == "simulate":
        parts.append(f"{_count(cells)} cells × {_count(genes)} genes "
                     f"(default {_count(cells_default)} × {_count(genes_default)})")
    parts += _changes(used, default, (("n_top_genes", "{} variable genes"), ("max_cells", "at most {} cells")))
    sweep, sweep_default = used.get("sweep", []), default.get("sweep", [])
    if sweep != sweep_default:
        size, size_default = _sweep_size(sweep), _sweep_size(sweep_default)
        parts.append(f"{size} sweep settings (default {size_default})" if size != size_default
                     else "a sweep other than the default")
        widths = sorted({e["discriminator_width"] for e in sweep if "discriminator_width" in e}
                        - {e["discriminator_width"] for e in sweep_default if "discriminator_width" in e})
        if widths:
            parts.append(f"FactorVAE discriminator {', '.join(f'{w:,}' for w in widths)} units wide (default 1,000)")
    return parts


def reduced_configuration(defaults: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """A one-line note on how `config` differs from `defaults` (config.yaml) in size, or "" if it does not.

    Compares the keys that set the study's size: each dataset's simulated cells and genes,
    variable genes, cell subset and sweep; the training epochs, hidden units and KL warm-up; the
    number of seeds. E.g. "Reduced configuration: simulated: 2,000 cells × 500 genes (default
    5,000 × 2,000); training: 100 epochs (default scVI's heuristic, up to 400); the full study's
    answers may differ."
    """
    parts = []
    datasets, default_datasets = config.get("datasets", {}), defaults.get("datasets", {})
    for name, spec in datasets.items():
        if spec.get("enabled", True) and name in default_datasets:
            changes = _dataset_changes(spec, default_datasets[name])
            if changes:
                parts.append(f"{name}: {', '.join(changes)}")
    training, training_default = config.get("training", {}), defaults.get("training", {})
    changes = _changes(training, training_default, (("n_hidden", "{} hidden units"),
                                                    ("kl_warmup_epochs", "KL warm-up over {} epochs")))
    if training.get("epochs") != training_default.get("epochs"):
        def epochs(value: Any) -> str:
            return "scVI's heuristic, up to 400" if value is None else f"{value:,}"
        changes.insert(0, f"{epochs(training.get('epochs'))} epochs (default {epochs(training_default.get('epochs'))})")
    if changes:
        parts.append(f"training: {', '.join(changes)}")
    seeds, seeds_default = config.get("seeds", []), defaults.get("seeds", [])
    if len(seeds) != len(seeds_default):
        parts.append(f"{len(seeds)} seeds (default {len(seeds_default)})")
    if not parts:
        return ""
    return f"Reduced configuration: {'; '.join(parts)}; {REDUCED_SUFFIX}."
