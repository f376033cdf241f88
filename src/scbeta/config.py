"""The workflow's configuration: validation against the schema and the table of runs it asks for."""
from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import yaml

from scbeta.registry import OBJECTIVES, RUN_COLUMNS, is_beta_vae, run_name, schema_enums


class ConfigError(ValueError):
    """A config value that the schema or the workflow does not accept."""


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _accepts(schema: Mapping[str, Any], kind: str) -> bool:
    types = schema.get("type", [])
    return kind in ([types] if isinstance(types, str) else types)


def _numeric_string(value: str, integer: bool) -> float | int | None:
    """`value` as a number if it spells one (e.g. "1e-3", which YAML 1.1 reads as a string), else None."""
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number):  # "nan" and "inf" would slip past the schema's bounds
        return None
    if integer:
        return int(number) if number.is_integer() else None
    return number


def _coerce(node: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    if "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    if isinstance(node, str) and not _accepts(schema, "string"):
        number = None
        if _accepts(schema, "number"):
            number = _numeric_string(node, integer=False)
        elif _accepts(schema, "integer"):
            number = _numeric_string(node, integer=True)
        return node if number is None else number
    if isinstance(node, float) and node.is_integer() and _accepts(schema, "integer") and not _accepts(schema, "number"):
        return int(node)  # 2.0 is an integer to the schema but not to range() or torch
    if isinstance(node, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, value in node.items():
            child = properties.get(key, extra if isinstance(extra, Mapping) else None)
            if child is not None:
                node[key] = _coerce(value, child, root)
    elif isinstance(node, list) and isinstance(schema.get("items"), Mapping):
        node[:] = [_coerce(value, schema["items"], root) for value in node]
    return node


def coerce_numbers(config: dict[str, Any], schema_path: str | Path) -> None:
    """Turn strings that spell a number into numbers, in place, wherever the schema wants a number, and
    whole floats (2.0) into ints wherever it wants an integer.

    YAML 1.1 (PyYAML, Snakemake) reads `1e-3` and `5e-4` as strings; they are meant as numbers.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    _coerce(config, schema, schema)


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


def factor_names(spec: Mapping[str, Any]) -> list[str]:
    """The factor columns of a dataset, whether `factors` is a list or a mapping name → type."""
    return list(spec["factors"])


def factor_types(spec: Mapping[str, Any]) -> dict[str, str]:
    """Factor name → declared type ("categorical" or "numeric"); empty for a bare list (types inferred)."""
    factors = spec["factors"]
    return dict(factors) if isinstance(factors, Mapping) else {}


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
                # β and C_max are keywords of `fit_many` itself; other swept weights (FactorVAE's γ) go to
                # the objective.
                swept = {"gamma": float(gamma)} if "gamma" in OBJECTIVES[entry["objective"]].weights else {}
                records.append({"dataset": dataset, "method": "vae", "objective": entry["objective"],
                                "beta": float(beta), "c_max": float(c_max), "gamma": float(gamma), "seed": int(seed),
                                "objective_params": {**options, **swept}})
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


def _size_of(config: Mapping[str, Any], name: str) -> tuple[int | None, int | None, str, str]:
    """Cells and genes a dataset will have as far as the config shows (None: unknown), with the keys saying so."""
    from scbeta.simulate import SimulationParams

    spec = config["datasets"][name]
    where = f"datasets.{name}"
    if spec["source"] == "simulate":
        params = spec.get("simulate", {})
        return (params.get("n_cells", SimulationParams.n_cells), params.get("n_genes", SimulationParams.n_genes),
                f"{where}.simulate.n_cells", f"{where}.simulate.n_genes")
    if spec["source"] == "kang2018":
        return spec.get("max_cells"), spec.get("n_top_genes"), f"{where}.max_cells", f"{where}.n_top_genes"
    return spec.get("max_cells"), None, f"{where}.max_cells", f"the genes of {spec.get('path')}"


def _check_latent_size(config: Mapping[str, Any], name: str, n_cells: int | None, n_genes: int | None,
                       cells_key: str, genes_key: str) -> None:
    """n_latent dimensions need at least as many genes, and a baseline's as many components need as many cells."""
    n_latent = config["training"]["n_latent"]
    if n_genes is not None and n_latent > n_genes:
        raise ConfigError(f"config key training.n_latent = {n_latent}: dataset {name!r} has only {n_genes} genes "
                          f"({genes_key}); n_latent must be at most the number of genes")
    baselines = config["datasets"][name].get("baselines", [])
    if baselines and n_cells is not None and n_latent > n_cells:
        raise ConfigError(f"config key training.n_latent = {n_latent}: the {baselines[0]} baseline of dataset "
                          f"{name!r} needs at least n_latent cells, but it has {n_cells} ({cells_key})")


def fixed_options(objective: str, objective_params: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a run's objective that a training group shares: all but its swept weights
    (`registry.OBJECTIVES[objective].weights`, e.g. β or γ, which may differ within a group)."""
    swept = OBJECTIVES[objective].weights
    return {key: value for key, value in objective_params.items() if key not in swept}


def group_runs(runs: pd.DataFrame, models_per_job: int) -> pd.DataFrame:
    """`runs` (as from `expand_runs`) with a `group` column: the training job of each VAE run.

    Within a dataset, the runs of one objective with the same fixed options (`objective_params`
    other than its swept weights, `registry.OBJECTIVES[...].weights`) are cut, in the table's (sweep) order, into groups of at
    most `models_per_job` runs. Groups are named `<objective>_g<k>`, k counting the objective's
    groups in the dataset from 0; baselines, which train nothing, get "".
    """
    if models_per_job < 1:
        raise ConfigError(f"config key training.models_per_job = {models_per_job!r}: expected an integer >= 1")
    groups = pd.Series("", index=runs.index, dtype=object)
    for _, rows in runs[runs["method"] == "vae"].groupby("dataset", sort=False):
        members: dict[tuple[str, str], list[Any]] = {}
        for index, row in rows.iterrows():
            fixed = fixed_options(row["objective"], row["objective_params"])
            members.setdefault((row["objective"], json.dumps(fixed, sort_keys=True)), []).append(index)
        chunks_of: Counter[str] = Counter()
        for (objective, _), indices in members.items():
            for start in range(0, len(indices), models_per_job):
                groups[indices[start:start + models_per_job]] = f"{objective}_g{chunks_of[objective]}"
                chunks_of[objective] += 1
    return runs.assign(group=groups)


def training_keywords(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords `scbeta.fit_many` takes from the config's `training` section: all of it but the
    workflow's own `threads` (per job) and `models_per_job`."""
    return {key: value for key, value in config["training"].items() if key not in ("threads", "models_per_job")}


def training_runs(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The runs of one group as `scbeta.model.fit_many` takes them, in the order of `rows`."""
    return [{"objective": str(r.objective), "beta": float(r.beta), "c_max": float(r.c_max), "seed": int(r.seed),
             "objective_params": dict(r.objective_params)} for r in rows.itertuples()]


def _check_local_dir(name: str, local_dir: str) -> None:
    """The `local_dir` of a Kang et al. (2018) dataset must be a folder holding the six GEO files."""
    from scbeta.download import KANG2018_FILES

    where = f"config key datasets.{name}.local_dir = {local_dir!r}"
    folder = Path(local_dir)
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ConfigError(f"{where}: the folder {problem}; give a folder holding the six GEO files of "
                          "GSE96583 batch 2, or null to download them")
    missing = [str(folder / file) for file in KANG2018_FILES if not (folder / file).is_file()]
    if missing:
        raise ConfigError(f"{where}: {', '.join(missing)} not found; the folder must hold all six GEO files of "
                          "GSE96583 batch 2, or set local_dir: null to download them")


def check_datasets(config: Mapping[str, Any]) -> None:
    """Check each enabled dataset's own requirements beyond the schema, before any job starts.

    A user's .h5ad must exist, hold counts, have its factor and identity columns, at least two
    identity labels and no integer factor of unknown type that looks categorical; a simulated
    dataset's factors must be programs the simulator makes, and take no gene set (they are scored
    against the simulator's program genes); a Kang et al. (2018) `local_dir` must hold the six files.
    No dataset may have fewer genes than `training.n_latent` (nor, with baselines, fewer cells).
    Raises one-line ValueErrors.
    """
    from scbeta.data import check_dataset_h5ad
    from scbeta.simulate import SimulationParams

    for name in enabled_datasets(config):
        spec = config["datasets"][name]
        n_cells, n_genes, cells_key, genes_key = _size_of(config, name)
        if spec["source"] == "h5ad":
            shape = check_dataset_h5ad(spec["path"], layer=spec.get("layer"), factors=factor_names(spec),
                                       factor_types=factor_types(spec), identity=spec.get("identity"), name=name)
            if n_cells is None or shape[0] < n_cells:
                n_cells, cells_key = shape[0], f"the cells of {spec['path']}"
            n_genes = shape[1]
        elif spec["source"] == "simulate":
            if spec.get("max_cells") is not None:
                raise ConfigError(f"config key datasets.{name}.max_cells: a simulated dataset takes its "
                                  "number of cells from simulate.n_cells")
            params = spec.get("simulate", {})
            n_identities = params.get("n_identities", SimulationParams.n_identities)
            n_activities = params.get("n_activities", SimulationParams.n_activities)
            programs = ([f"identity_{k:02d}" for k in range(n_identities)]
                        + [f"activity_{k:02d}" for k in range(n_activities)])
            known = programs + ["identity"]
            unknown = [f for f in factor_names(spec) if f not in known]
            if unknown:
                raise ConfigError(f"config key datasets.{name}.factors: {unknown} are not simulated; "
                                  f"the simulator makes {known}")
            given = [factor for factor in spec.get("gene_sets") or {} if factor in programs]
            if given:
                raise ConfigError(f"config key datasets.{name}.gene_sets.{given[0]}: a simulated program is scored "
                                  "against the genes the simulator made it with, not a gene set; remove this entry")
            if spec.get("identity") and n_identities < 2:
                raise ConfigError(f"config key datasets.{name}.simulate.n_identities = {n_identities}: the identity "
                                  "scores need at least 2 identities (or set identity: null)")
        elif spec["source"] == "kang2018" and spec.get("local_dir"):
            _check_local_dir(name, spec["local_dir"])
        _check_latent_size(config, name, n_cells, n_genes, cells_key, genes_key)


def _beta_vae_betas(runs: pd.DataFrame, dataset: str) -> list[float]:
    """The β values of the dataset's β-VAE runs (`registry.is_beta_vae`), ascending."""
    return sorted(runs.loc[(runs["dataset"] == dataset) & is_beta_vae(runs), "beta"].unique())


def figure_betas(config: Mapping[str, Any], runs: pd.DataFrame, dataset: str) -> list[float]:
    """The β values whose latents the dataset's figure shows (Figure 2D, Figure 3E): its `figure_betas`, else
    the smallest and the largest β of its β-VAE sweep (the one β of a sweep of one; none without β-VAE runs)."""
    chosen = config["datasets"][dataset].get("figure_betas")
    if chosen is not None:
        return [float(beta) for beta in chosen]
    swept = _beta_vae_betas(runs, dataset)
    return sorted({swept[0], swept[-1]}) if swept else []


def figure_runs(config: Mapping[str, Any], runs: pd.DataFrame, dataset: str) -> list[str]:
    """The runs whose latents the dataset's figure shows: its β-VAE runs at `figure_betas`, first seed, by β."""
    rows = runs[(runs["dataset"] == dataset) & is_beta_vae(runs)]
    rows = rows[(rows["seed"] == rows["seed"].min()) & rows["beta"].isin(figure_betas(config, runs, dataset))]
    return rows.sort_values("beta", kind="stable")["run"].tolist()


def check_figures(config: Mapping[str, Any], runs: pd.DataFrame, figure2_dataset: str | None,
                  figure3_datasets: list[str]) -> None:
    """Every β a figure is asked to show (`datasets.<name>.figure_betas` of the dataset it shows) must be a
    β-VAE run of that dataset. Raises a one-line ConfigError."""
    for dataset in [d for d in [figure2_dataset] if d is not None] + list(figure3_datasets):
        swept = _beta_vae_betas(runs, dataset)
        missing = [b for b in figure_betas(config, runs, dataset) if b not in swept]
        if missing:
            shown = ", ".join(f"{b:g}" for b in swept) or "none"
            raise ConfigError(f"config key datasets.{dataset}.figure_betas: β {', '.join(f'{b:g}' for b in missing)} "
                              f"not in the β-VAE sweep of dataset {dataset!r} (β: {shown}); choose values from "
                              "that sweep")


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


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) config file; a syntax error raises a one-line ConfigError naming the file,
    line and column."""
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of keys, found {type(loaded).__name__}")
    return loaded


def main(argv: list[str] | None = None) -> int:
    """`python -m scbeta.config FILE...`: check that config files parse, printing one line per bad file."""
    import sys

    status = 0
    for path in sys.argv[1:] if argv is None else argv:
        try:
            load_config_file(path)
        except ConfigError as error:
            print(error, file=sys.stderr)
            status = 1
        else:
            print(f"{path}: valid YAML")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
