"""Figures from small synthetic inputs: panels, β colours, skipped targets, PNG/PDF output."""
import anndata as ad
import matplotlib
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from PIL import Image

from scbeta import plots
from scbeta._io import save_figure

RUN_KEYS = ["dataset", "run", "method", "objective", "beta", "c_max", "gamma", "seed"]
CELL_TYPES = ["B cells", "CD4 T cells", "CD14+ Monocytes", "Megakaryocytes"]
AGGREGATES = ["mig", "dci_disentanglement", "sap", "lms_smi"]


def _runs(dataset, betas, seeds, extra=True):
    runs = [("vae", "beta", b, 0.0, 0.0) for b in betas]
    if extra:
        runs += [("vae", "capacity", b, 10.0, 0.0) for b in betas[:2]] + [("vae", "factorvae", 1.0, 0.0, 10.0)]
        runs += [(m, "", 0.0, 0.0, 0.0) for m in ("pca", "nmf")]
    out = []
    for method, objective, beta, c_max, gamma in runs:
        for seed in seeds:
            name = f"{method}_seed{seed}" if method != "vae" else f"{objective}_beta{beta:g}_g{gamma:g}_seed{seed}"
            out.append(dict(dataset=dataset, run=name, method=method, objective=objective, beta=beta, c_max=c_max,
                            gamma=gamma, seed=seed))
    return out


def _table(dataset, betas, seeds=(0, 1, 2), real=True, cell_types=CELL_TYPES, n_dims=5, extra=True):
    rng = np.random.default_rng(1)
    rows = []
    for run in _runs(dataset, betas, seeds, extra):
        def add(metric, factor, dim, value):
            rows.append({**run, "metric": metric, "factor": factor, "dim": dim, "value": value})
        if real:
            add("max_abs_corr", "stim_indicator", int(rng.integers(n_dims)), rng.uniform(0.7, 0.9))
            for cell_type in cell_types:
                add("identity_accuracy", cell_type, int(rng.integers(n_dims)), rng.uniform(0.6, 1.0))
        else:
            for factor in ("identity_00", "activity_00"):
                add("max_abs_corr", factor, int(rng.integers(n_dims)), rng.uniform(0.3, 0.8))
        add("best_ari", np.nan, -1, rng.uniform(0.3, 0.8))
        add("best_nmi", np.nan, -1, rng.uniform(0.3, 0.8))
        for metric in AGGREGATES:
            add(metric, np.nan, -1, rng.uniform(0, 1))
    return pd.DataFrame(rows)


def _embedding(n_cells=300, cell_types=CELL_TYPES):
    rng = np.random.default_rng(0)
    obs = pd.DataFrame({"cell": pd.Categorical(rng.choice(cell_types, n_cells), categories=cell_types),
                        "stim": rng.choice(["ctrl", "stim"], n_cells)},
                       index=[f"c{i}" for i in range(n_cells)])
    obs["stim_indicator"] = (obs["stim"] == "stim").astype(float)
    embedding = ad.AnnData(obs=obs)
    embedding.obsm["X_umap"] = rng.normal(size=(n_cells, 2)).astype(np.float32)
    return embedding


def _latent(embedding, table, beta, n_dims=5):
    run = table[(table["objective"] == "beta") & (table["beta"] == beta) & (table["seed"] == 0)].iloc[0]
    latent = ad.AnnData(obs=embedding.obs.copy())
    latent.obsm["X_latent"] = np.random.default_rng(2).normal(size=(embedding.n_obs, n_dims)).astype(np.float32)
    latent.uns["run"] = {key: run[key] for key in RUN_KEYS}
    return latent


def _beta_gids(fig):
    """(β, facecolour) of every bar and scatter collection tagged with a β."""
    found = []
    for ax in fig.axes:
        for artist in [*ax.patches, *ax.collections]:
            gid = artist.get_gid() or ""
            if gid.startswith("beta="):
                face = artist.get_facecolor()
                face = np.atleast_2d(face)
                found.extend((float(gid[5:]), tuple(color)) for color in face)
    return found


def _assert_beta_colours(fig, expected_betas):
    found = _beta_gids(fig)
    assert {beta for beta, _ in found} == set(expected_betas)
    for beta, color in found:
        assert np.allclose(color, to_rgba(plots.beta_color(beta))), beta


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_beta_colours():
    assert plots.beta_color(50) == plots.beta_color(500)  # saturates beyond the range
    # Neighbouring β of the sweeps differ visibly: at least 0.12 apart in RGB (0–1 per channel).
    colours = [np.array(plots.beta_color(b)[:3]) for b in plots.BETA_GRID]
    gaps = [np.linalg.norm(a - b) for a, b in zip(colours, colours[1:])]
    assert min(gaps) > 0.12, dict(zip(plots.BETA_GRID[1:], np.round(gaps, 3)))
    # β between grid values falls between its neighbours' colours
    between = np.array(plots.beta_color(1.25)[:3])
    assert np.linalg.norm(between - colours[0]) < gaps[0] and np.linalg.norm(between - colours[1]) < gaps[0]


def test_figure3_panels_colours_and_skipped_targets(tmp_path):
    # the small dataset: no dendritic cells, no megakaryocytes
    cell_types = ["B cells", "CD4 T cells", "CD8 T cells", "CD14+ Monocytes", "FCGR3A+ Monocytes"]
    betas = [1.0, 1.5, 2.0, 5.0]
    table = _table("kang", betas, cell_types=cell_types)
    embedding = _embedding(cell_types=cell_types)
    latents = [_latent(embedding, table, 1.0), _latent(embedding, table, 2.0)]
    table = _with_active_units(table, collapsed_betas=[5.0])
    fig = plots.figure3(embedding, table, latents)

    titles = [ax.get_title(loc="left") + ax.get_title() for ax in fig.axes]
    assert any("Exp. factor recovery" in t for t in titles)
    assert any("Clustering recovery" in t for t in titles)
    assert all("β-VAE runs only" in t for t in titles if t.startswith(("B  ", "C  ", "D  ")))
    # E: one column per present target plus the stimulated cells; a top row plus one row per latent
    highlighted = [t for t in titles if "(n = " in t]
    assert len(highlighted) == 2
    assert highlighted[0].startswith("B cells") and highlighted[1].startswith("IFN-β stimulated")
    assert not any("Dendritic" in t or "Megakaryocytes" in t for t in titles)
    assert sum(t.startswith("β = ") for t in titles) == 2 * len(latents)
    suptitles = [sub._suptitle.get_text() for sub in fig.subfigs if sub._suptitle is not None]
    assert any("not in these data: Dendritic cells, Megakaryocytes" in t for t in suptitles)
    # the latent panel shows the dimension named by the table for that run
    run = latents[0].uns["run"]["run"]
    dim = table[(table["run"] == run) & (table["factor"] == "B cells")]["dim"].iloc[0]
    assert any(t.startswith(f"β = 1: dim {dim} ") for t in titles)
    # B–D only β-VAE β values; all bars coloured by beta_color
    _assert_beta_colours(fig, betas)
    bars = _hatched(fig)
    assert len(bars) == 2 * len(betas) + len(cell_types) * len(betas)
    assert {gid for gid, hatched in bars if hatched} == {"beta=5"}  # the collapsed β in B, C and D
    assert sum(hatched for _, hatched in bars) == 2 + len(cell_types)
    legend_labels = {t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()}
    assert plots.COLLAPSED_LABEL in legend_labels
    latent_axes = [ax for ax in fig.axes if ax.get_title().startswith("β = ") and ax.collections]
    assert len({ax.collections[0].get_clim() for ax in latent_axes}) == 1  # one colour scale for all latents

    save_figure(fig, [tmp_path / "figure3.png", tmp_path / "figure3.pdf"])
    with Image.open(tmp_path / "figure3.png") as image:
        assert image.info["dpi"][0] >= 199
    assert mpimg.imread(tmp_path / "figure3.png").ndim == 3
    assert (tmp_path / "figure3.pdf").read_bytes().startswith(b"%PDF")


def test_figure3_all_targets_and_no_latents():
    table = _table("kang", [1.0, 2.0], extra=False)
    embedding = _embedding()
    fig = plots.figure3(embedding, table, [_latent(embedding, table, 1.0)])
    highlighted = [ax.get_title() for ax in fig.axes if "(n = " in ax.get_title()]
    assert [t.split(" (n")[0] for t in highlighted] == ["B cells", "Megakaryocytes", "IFN-β stimulated"]
    assert not any("β-VAE runs only" in ax.get_title(loc="left") for ax in fig.axes)
    plt.close(fig)
    fig = plots.figure3(embedding, table, [])
    assert not any("(n = " in ax.get_title() for ax in fig.axes)


def test_figure3_needs_beta_runs():
    table = _table("kang", [1.0])
    with pytest.raises(ValueError, match="no β-VAE runs"):
        plots.figure3(_embedding(), table[table["objective"] != "beta"], [])


def test_tradeoff_panels_markers_and_colours(tmp_path):
    betas_real, betas_sim = [1.0, 2.0, 5.0], [1.0, 10.0, 50.0]
    tables = {"kang2018": _table("kang", betas_real), "simulated": _table("sim", betas_sim, real=False),
              "my_data": _table("mine", [1.0], real=False, extra=False)}
    fig = plots.tradeoff(tables)
    data_axes = [ax for ax in fig.axes if ax.get_xlabel()]
    assert len(data_axes) == 4  # two panels for the real data, one for each simulated one
    # datasets by their labels; a user's dataset by its key
    assert [ax.get_title(loc="left") for ax in data_axes] == [
        "A  Kang et al. (2018):\nstimulation |r|", "B  Kang et al. (2018):\ncell-type accuracy", "C  Simulated:\nMIG",
        "D  my_data:\nMIG"]
    assert "max |r|" in data_axes[0].get_ylabel() and "balanced accuracy" in data_axes[1].get_ylabel()
    assert "MIG" in data_axes[2].get_ylabel()
    _assert_beta_colours(fig, set(betas_real) | set(betas_sim))
    markers = {(c.get_gid() or "") for ax in data_axes for c in ax.collections}
    assert {"method=PCA", "method=NMF"} <= markers
    legend_labels = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    assert {"β-VAE", "Capacity (C_max = 10)", "FactorVAE", "PCA", "NMF", "β = 1", "β = 50",
            "γ = 10 (FactorVAE)"} <= legend_labels
    assert not any(label.startswith("open marker") for label in legend_labels)  # nothing collapsed here
    # legends sit outside every data axis
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        assert all(box.x0 >= ax.get_window_extent(renderer).x1 for ax in data_axes)
    save_figure(fig, [tmp_path / "tradeoff.png"])
    assert mpimg.imread(tmp_path / "tradeoff.png").shape[0] > 400


def test_tradeoff_simulated_falls_back_to_lms_smi():
    table = _table("sim", [1.0, 10.0], real=False, extra=False)
    fig = plots.tradeoff({"sim": table[table["metric"] != "mig"]})
    assert "LMS-SMI" in fig.axes[0].get_ylabel()


def test_metrics_by_beta_grid(tmp_path):
    kang = _table("kang", [1.0, 2.0, 5.0])
    # a chosen setting, not a score: must not be drawn
    kang = pd.concat([kang, kang[kang["metric"] == "best_ari"].assign(metric="best_resolution", value=2.0)])
    tables = {"kang2018": kang, "simulated": _table("sim", [1.0, 10.0], real=False)}
    fig = plots.metrics_by_beta(tables)
    axes = np.array(fig.axes).reshape(len(AGGREGATES) + 2, 4)  # + best ARI and best NMI; β and γ per dataset
    assert [ax.get_title() for ax in axes[0]] == ["Kang et al. (2018)", "Kang et al. (2018):\nFactorVAE",
                                                  "Simulated", "Simulated:\nFactorVAE"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["MIG", "DCI\ndisentanglement", "SAP", "LMS-SMI", "Best ARI†",
                                                     "Best NMI"]
    assert "† ARI below 0: less agreement" in fig.legends[0].get_title().get_text()  # may be negative, and why
    assert [ax.get_xlabel() for ax in axes[-1]] == ["β", "γ", "β", "γ"]
    assert all(ax.get_xscale() == "log" for ax in axes.ravel())
    assert [t.get_text() for t in axes[-1, 0].get_xticklabels()] == ["1", "2", "5"]  # β only
    assert [t.get_text() for t in axes[-1, 1].get_xticklabels()] == ["10"]  # FactorVAE's γ on its own axis
    gids = {line.get_gid() for line in axes[0, 0].lines}
    assert {"method=β-VAE", "method=Capacity (C_max = 10)", "baseline=PCA", "baseline=NMF"} <= gids
    assert "method=FactorVAE" not in gids and "method=FactorVAE" in {line.get_gid() for line in axes[0, 1].lines}
    # baselines in a colour no objective uses
    colours = {line.get_gid(): to_rgba(line.get_color()) for line in axes[0, 0].lines}
    assert colours["baseline=PCA"] == to_rgba(plots.BASELINE_COLOR)
    assert colours["baseline=PCA"] not in {c for gid, c in colours.items() if gid.startswith("method=")}
    # baselines: a horizontal line at their mean
    table = tables["kang2018"]
    pca = table[(table["method"] == "pca") & (table["metric"] == "mig")]["value"].mean()
    line = next(line for line in axes[0, 0].lines if line.get_gid() == "baseline=PCA")
    assert np.allclose(line.get_ydata(), pca)
    # β-VAE line: the mean over seeds at each β
    vae = table[(table["objective"] == "beta") & (table["metric"] == "mig")].groupby("beta")["value"].mean()
    line = next(line for line in axes[0, 0].lines if line.get_gid() == "method=β-VAE")
    assert np.allclose(line.get_xdata(), vae.index) and np.allclose(line.get_ydata(), vae.to_numpy())
    legend_labels = {t.get_text() for t in fig.legends[0].get_texts()}
    assert {"PCA (mean)", "NMF (mean)", "β-VAE"} <= legend_labels
    save_figure(fig, [tmp_path / "metrics.pdf"])
    assert (tmp_path / "metrics.pdf").stat().st_size > 1000


def _with_active_units(table, collapsed_betas, n_dims=5):
    """`active_units` rows for every run: 0 for β-VAE runs at `collapsed_betas`, else `n_dims`."""
    runs = table.drop_duplicates("run")
    active = np.where((runs["objective"] == "beta") & runs["beta"].isin(collapsed_betas), 0.0, float(n_dims))
    rows = runs.assign(metric="active_units", factor=np.nan, dim=-1, value=active)
    return pd.concat([table, rows], ignore_index=True)


def _hatched(fig):
    return [(p.get_gid(), bool(p.get_hatch())) for ax in fig.axes for p in ax.patches
            if (p.get_gid() or "").startswith("beta=")]


def test_figure2_hatches_collapsed_bars_and_shares_one_latent_scale(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    obs = pd.DataFrame({"identity": pd.Categorical(rng.choice(["a", "b", "c"], n)),
                        "identity_00": rng.uniform(size=n), "activity_00": rng.uniform(size=n)},
                       index=[f"c{i}" for i in range(n)])
    embedding = ad.AnnData(obs=obs)
    embedding.obsm["X_umap"] = rng.normal(size=(n, 2))
    table = _table("sim", [1.0, 10.0], real=False)  # β-VAE, capacity, FactorVAE and baselines
    tcvae = table[table["objective"] == "beta"].assign(objective="tcvae", beta=6.0, run=lambda t: t["run"] + "_tc")
    table = _with_active_units(pd.concat([table, tcvae], ignore_index=True), collapsed_betas=[10.0])
    healthy, collapsed = _latent(embedding, table, 1.0), _latent(embedding, table, 10.0)
    collapsed.obsm["X_latent"] *= 0.02  # a collapsed model's latent barely varies
    fig = plots.figure2(embedding, table, [healthy, collapsed])
    _assert_beta_colours(fig, [1.0, 10.0])  # β-VAE and capacity only: no FactorVAE, β-TCVAE or baselines
    bars = _hatched(fig)
    assert len(bars) == 2 * 2 * 2  # 2 factors × 2 β × (C_max = 0, C_max = 10)
    # only the β-VAE bars at β = 10 (the first panel) are hatched, not the capacity ones
    assert [hatched for _, hatched in bars] == [False, True] * 2 + [False, False] * 2
    suptitles = [sub._suptitle.get_text() for sub in fig.subfigs if sub._suptitle is not None]
    assert any("FactorVAE, β-TCVAE not shown" in t for t in suptitles)
    legend_labels = {t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()}
    assert {"1", "10", plots.COLLAPSED_LABEL} <= legend_labels
    latent_axes = [ax for ax in fig.axes if " → dim " in ax.get_title()]
    assert len(latent_axes) == 4
    limits = {ax.collections[0].get_clim() for ax in latent_axes}
    assert len(limits) == 1  # one colour scale for every row
    low, high = limits.pop()
    assert low == pytest.approx(-high)  # diverging scale centred at 0
    assert latent_axes[0].get_ylabel().startswith("β = 1, seed 0\n5 of 5 dims active")
    # C's β legend: its title sits over its swatches, not centred over the long hatching entry
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    legend = next(ax.get_legend() for ax in fig.axes
                  if ax.get_legend() and ax.get_legend().get_title().get_text() == "β")
    title_x = legend.get_title().get_window_extent(renderer).x0
    assert abs(title_x - legend.get_patches()[0].get_window_extent(renderer).x0) < 2  # pixels
    assert "SD 0.02" in latent_axes[2].get_title() or "SD 0.01" in latent_axes[2].get_title()
    save_figure(fig, [tmp_path / "figure2.png"])
    assert mpimg.imread(tmp_path / "figure2.png").ndim == 3


def test_figure2_takes_a_max_abs_corr_table_without_hatching():
    rng = np.random.default_rng(0)
    obs = pd.DataFrame({"identity": pd.Categorical(rng.choice(["a", "b"], 50)), "identity_00": rng.uniform(size=50),
                        "activity_00": rng.uniform(size=50)}, index=[f"c{i}" for i in range(50)])
    embedding = ad.AnnData(obs=obs)
    embedding.obsm["X_umap"] = rng.normal(size=(50, 2))
    table = _table("sim", [1.0, 10.0], real=False)
    corr = table[table["metric"] == "max_abs_corr"].rename(columns={"value": "abs_corr"})
    fig = plots.figure2(embedding, corr, [])
    assert not any(hatched for _, hatched in _hatched(fig))


def test_reduced_note_under_the_figure_and_in_its_metadata(tmp_path):
    fig = plt.figure()
    note = "Reduced configuration: training: 3 epochs (default 400); the full study's answers may differ."
    plots.add_note(fig, note)
    # What was reduced, without the defaults; where the defaults are written.
    assert fig.get_suptitle().replace("\n", " ") == (
        "Reduced configuration: training: 3 epochs (defaults: the note heading claims.md and this file's metadata)")
    save_figure(fig, [tmp_path / "f.png", tmp_path / "f.pdf"], note=note)
    with Image.open(tmp_path / "f.png") as image:
        assert image.info["Warning"] == note
    assert b"Reduced configuration" in (tmp_path / "f.pdf").read_bytes()
    titled = plt.figure()
    titled.suptitle("A title")
    plots.add_note(titled, note)
    assert titled.get_suptitle().startswith("A title\nReduced configuration: training: 3 epochs")
    plots.add_note(plt.figure(), "")
    assert plt.gcf().get_suptitle() == ""


def test_point_size_shrinks_with_cells():
    assert plots.point_size(100) > plots.point_size(1000) > plots.point_size(100000) >= 0.1
    assert matplotlib.get_backend().lower() == "agg"


def test_metrics_by_beta_wraps_many_metrics_into_two_blocks():
    table = _table("sim", [1.0, 10.0], real=False, extra=False)
    extra = table[table["metric"] == "mig"]
    table = pd.concat([table] + [extra.assign(metric=m) for m in plots.AGGREGATE_METRICS
                                 if m not in set(table["metric"])], ignore_index=True)
    fig = plots.metrics_by_beta({"sim": table})
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(visible) == len(plots.AGGREGATE_METRICS)  # no FactorVAE: no γ column
    assert [ax.get_title() for ax in visible].count("sim") == 2  # one title per block
    assert sum(bool(ax.get_xlabel()) for ax in visible) == 2  # x axis labelled at the foot of each block
    assert fig.get_size_inches()[1] < 11  # fits a printed page


def _points(collections) -> int:
    return sum(len(c.get_offsets()) for c in collections)


def test_tradeoff_marks_collapsed_runs_and_colours_factorvae_by_its_gamma():
    table = _with_active_units(_table("sim", [1.0, 10.0, 50.0], real=False), collapsed_betas=[50.0])
    fig = plots.tradeoff({"simulated": table})
    by_gid: dict = {}
    for collection in fig.axes[0].collections:
        by_gid.setdefault(collection.get_gid(), []).append(collection)
    # FactorVAE (its β is 1, its weight γ = 10): γ's colour, never that of β = 1
    assert _points(by_gid["gamma=10"]) == 3
    assert np.allclose(by_gid["gamma=10"][0].get_facecolor()[0], to_rgba(plots.gamma_color(10)))
    assert not np.allclose(to_rgba(plots.gamma_color(10)), to_rgba(plots.beta_color(1)), atol=0.1)
    assert _points(by_gid["beta=1"]) == 6  # β-VAE and capacity, 3 seeds each
    # the collapsed β = 50 runs: open markers edged in their β's colour, and a legend entry saying so
    assert "beta=50" not in by_gid and _points(by_gid["collapsed beta=50"]) == 3
    assert np.allclose(by_gid["collapsed beta=50"][0].get_facecolor()[0], to_rgba("white"))
    assert np.allclose(by_gid["collapsed beta=50"][0].get_edgecolor()[0], to_rgba(plots.beta_color(50)))
    assert plots.COLLAPSED_MARKER_LABEL in {t.get_text() for legend in fig.legends for t in legend.get_texts()}


def test_metrics_by_beta_opens_collapsed_means_and_keeps_gamma_off_the_beta_axis():
    table = _with_active_units(_table("sim", [1.0, 10.0, 50.0], real=False), collapsed_betas=[50.0])
    fig = plots.metrics_by_beta({"simulated": table})
    axes = np.array(fig.axes).reshape(len(AGGREGATES) + 2, 2)
    assert [ax.get_xlabel() for ax in axes[-1]] == ["β", "γ"]
    for column, axis in zip(axes.T, ["β", "γ"]):
        gids = {line.get_gid() for ax in column for line in ax.lines}
        assert ("method=FactorVAE" in gids) == (axis == "γ")
    lines = {line.get_gid(): line for line in axes[0, 0].lines}
    assert list(lines["collapsed=β-VAE"].get_xdata()) == [50.0]
    assert lines["collapsed=β-VAE"].get_markerfacecolor() == "white"
    assert list(lines["method=β-VAE"].get_markevery()) == [0, 1]  # filled markers at β = 1 and 10 only
    assert "collapsed=Capacity (C_max = 10)" not in lines
    assert any(t.get_text().startswith("open marker: a seed with") for t in fig.legends[0].get_texts())


def _programs_inputs():
    """A metric table and program tables: β-VAE at β 1, 10 and 50 (collapsed, 1 active dim), FactorVAE at γ 10 and
    PCA; one factor with known program genes g0–g2, matched to dim 2."""
    from scbeta.programs import tidy_programs

    rng = np.random.default_rng(0)
    genes = [f"g{g}" for g in range(12)]
    rows, programs = [], {}
    runs = [("beta", b, 0.0, f"beta_beta{b:g}_cmax0_seed") for b in (1.0, 10.0, 50.0)]
    runs.append(("factorvae", 1.0, 10.0, "factorvae_gamma10_seed"))
    for objective, beta, gamma, prefix in runs:
        for seed in (0, 1):
            common = {"dataset": "simulated", "run": f"{prefix}{seed}", "method": "vae", "objective": objective,
                      "beta": beta, "c_max": 0.0, "gamma": gamma, "seed": seed}
            rows += [{**common, "metric": "max_abs_corr", "factor": "identity_00", "dim": 2, "value": 0.8},
                     {**common, "metric": "program_auroc", "factor": "identity_00", "dim": 2, "value": 0.6 + seed / 10},
                     {**common, "metric": "active_units", "factor": "", "dim": -1, "value": 1.0 if beta == 50 else 3.0}]
        if objective == "beta":
            programs[f"{prefix}0"] = tidy_programs(rng.normal(size=(3, 12)) * beta, genes)
    rows.append({"dataset": "simulated", "run": "pca_seed0", "method": "pca", "objective": "", "beta": 0.0,
                 "c_max": 0.0, "gamma": 0.0, "seed": 0, "metric": "program_auroc", "factor": "identity_00", "dim": 1,
                 "value": 0.6})
    return pd.DataFrame(rows), programs, {"identity_00": ["g0", "g1", "g2"]}


def test_programs_figure_marks_collapse_scales_each_heatmap_and_annotates_program_genes():
    from scbeta.plots.programs import top_gene_matrix

    table, programs, known = _programs_inputs()
    fig = plots.programs_figure(table, programs, n_genes_per_dim=2, program_genes=known)
    heatmaps = {ax.get_title(): ax for ax in fig.axes if ax.get_title().startswith("β = ")}
    assert list(heatmaps) == ["β = 1", "β = 10", "β = 50"]
    collapsed = heatmaps["β = 50"]
    assert not collapsed.images and [t.get_text() for t in collapsed.texts] == ["collapsed\n(1 active dim)"]
    # each heatmap on its own symmetric scale, at its largest |score|
    for title, run in (("β = 1", "beta_beta1_cmax0_seed0"), ("β = 10", "beta_beta10_cmax0_seed0")):
        limit = np.abs(top_gene_matrix(programs[run], 2).to_numpy()).max()
        assert heatmaps[title].images[0].get_clim() == pytest.approx((-limit, limit))
    # beside each drawn heatmap a strip that fills the cells of the known program genes
    strips = [ax for ax in fig.axes if ax.get_gid() == "program-strip"]
    assert len(strips) == 2
    cells = strips[0].images[0].get_array()
    genes = [t.get_text() for t in strips[0].get_yticklabels()]
    filled = [bool((np.asarray(cells[i, 0])[:3] < 0.99).any()) for i in range(len(genes))]
    assert filled == [gene in known["identity_00"] for gene in genes] and any(filled)
    # B: FactorVAE on a γ axis of its own, never on the β axis; the collapsed β-VAE mean has an open marker
    recovery = [ax for ax in fig.axes if ax.get_xlabel() in ("β", "γ (FactorVAE)")]
    assert sorted(ax.get_xlabel() for ax in recovery) == ["β", "γ (FactorVAE)"]
    for ax in recovery:
        gids = {line.get_gid() for line in ax.lines}
        assert ("method=FactorVAE" in gids) == (ax.get_xlabel() != "β")
        assert "baseline=PCA" in gids
    beta_axis = next(ax for ax in recovery if ax.get_xlabel() == "β")
    assert [list(line.get_xdata()) for line in beta_axis.lines if line.get_gid() == "collapsed=β-VAE"] == [[50.0]]
    # one factor: its panels and the legend sit together, not spread over the figure's width
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    legend = next(ax.get_legend() for ax in fig.axes if ax.get_legend())
    gap = legend.get_window_extent(renderer).x0 - max(ax.get_window_extent(renderer).x1 for ax in recovery)
    assert 0 <= gap < 0.5 * fig.dpi
    assert beta_axis.get_window_extent(renderer).width < 3.0 * fig.dpi
