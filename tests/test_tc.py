"""Known-answer tests for the total-correlation estimators, β-TCVAE and FactorVAE."""
from __future__ import annotations

import copy
import io
import math
from pathlib import Path

import pytest
import torch

from scbeta.module import VAE, CountBatch, StackedVAE, VAEOutput, kl_per_dimension
from scbeta.objectives import (
    DISCRIMINATOR_PRECISIONS,
    OBJECTIVES,
    BetaTCVAE,
    BetaVAE,
    FactorVAE,
    discriminator_dtype,
    make_objective,
)
from scbeta.tc import _aggregate_log_densities, kl_decomposition, total_correlation

ESTIMATORS = ("mss", "mws")


def gaussian_tc(cov: torch.Tensor) -> float:
    """Closed-form total correlation of N(0, cov), in nats."""
    return 0.5 * float(torch.log(torch.diagonal(cov)).sum() - torch.logdet(cov))


def equicorrelated(n_dims: int, rho: float) -> torch.Tensor:
    cov = torch.full((n_dims, n_dims), rho, dtype=torch.float64)
    return cov.fill_diagonal_(1.0)


def posterior_sample(n_cells: int, cov: torch.Tensor, posterior_var: float,
                     generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cells with means ~ N(0, cov − s²I) and posteriors N(mean, s²I), s² = `posterior_var`.

    The aggregate posterior tends to N(0, cov) as n_cells grows. Returns one sample per cell,
    the means and the log-variances.
    """
    n_dims = cov.shape[0]
    chol = torch.linalg.cholesky(cov - posterior_var * torch.eye(n_dims, dtype=cov.dtype))
    mu = torch.randn(n_cells, n_dims, dtype=cov.dtype, generator=generator) @ chol.T
    z = mu + math.sqrt(posterior_var) * torch.randn(mu.shape, dtype=cov.dtype, generator=generator)
    return z, mu, torch.full_like(mu, math.log(posterior_var))


def monte_carlo_kl(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log q(z | x) − log p(z) per cell: the one-sample estimate of KL(q(z | x) ‖ N(0, I))."""
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    return (posterior.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(1)


def output_from(z: torch.Tensor, mu: torch.Tensor | None = None, logvar: torch.Tensor | None = None) -> VAEOutput:
    mu = z if mu is None else mu
    logvar = torch.zeros_like(z) if logvar is None else logvar
    return VAEOutput(z=z, qz_mu=mu, qz_logvar=logvar, recon=torch.zeros(len(z), dtype=z.dtype),
                     kl=kl_per_dimension(mu, logvar).sum(-1))


def count_batch(x: torch.Tensor) -> CountBatch:
    """The cells × genes counts `x` as the batch of a stack of one model (leading model dimension 1)."""
    rows, cols = x.nonzero(as_tuple=True)
    return CountBatch(x=x[None], rows=rows, cols=cols, values=x[rows, cols], log_library=torch.log(x.sum(1))[None],
                      log_factorial=torch.lgamma(x + 1).sum(1)[None])


@pytest.fixture(scope="module")
def vae_output() -> VAEOutput:
    """One untrained model's output on 256 cells, through the training path (a stack of one), as a single model's."""
    torch.manual_seed(0)
    x = torch.poisson(torch.full((256, 40), 2.0))
    x[:, 0] += 1  # no empty cells
    with torch.no_grad():
        out = StackedVAE([VAE(n_genes=40, n_latent=5, n_hidden=32)])(count_batch(x), [torch.Generator().manual_seed(0)])
    return VAEOutput(z=out.z[0], qz_mu=out.qz_mu[0], qz_logvar=out.qz_logvar[0], recon=out.recon[0], kl=out.kl[0],
                     kl_dims=out.kl_dims[0])


# --- the estimators -----------------------------------------------------------------------------

@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_factorised_grid_has_zero_tc(estimator: str) -> None:
    # Means on a full grid with isotropic posteriors: q(z) = Π_d q_d(z_d) exactly, at any width.
    grid = torch.linspace(-2.0, 2.0, 6, dtype=torch.float64)
    mu = torch.cartesian_prod(grid, grid, grid)
    logvar = torch.full_like(mu, math.log(0.05))
    z = mu + 0.05 ** 0.5 * torch.randn(mu.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert abs(float(total_correlation(z, mu, logvar, n_data=len(mu), estimator=estimator))) < 1e-9


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_independent_dims_have_near_zero_tc(estimator: str) -> None:
    z, mu, logvar = posterior_sample(256, equicorrelated(5, 0.0), 0.5, torch.Generator().manual_seed(2))
    assert abs(float(total_correlation(z, mu, logvar, n_data=50_000, estimator=estimator))) < 0.1


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_correlated_dims_have_large_tc(estimator: str) -> None:
    cov = equicorrelated(2, 0.99)
    z, mu, logvar = posterior_sample(256, cov, 0.005, torch.Generator().manual_seed(3))
    tc = float(total_correlation(z, mu, logvar, n_data=50_000, estimator=estimator))
    assert tc == pytest.approx(gaussian_tc(cov), abs=0.25)  # 1.96 nats


def test_mss_converges_to_gaussian_tc() -> None:
    # With n_data = batch size the MSS weights are all 1/N and the densities of the finite
    # mixture are exact; the mixture tends to N(0, cov) as it grows, so the estimate must too.
    cov = equicorrelated(4, 0.8)
    target = gaussian_tc(cov)  # 1.80 nats
    generator = torch.Generator().manual_seed(4)
    errors = {}
    for n_cells, repeats in ((100, 8), (2000, 2)):
        estimates = [float(total_correlation(*posterior_sample(n_cells, cov, 0.1, generator), n_data=n_cells))
                     for _ in range(repeats)]
        errors[n_cells] = abs(sum(estimates) / repeats - target)
    assert errors[2000] < 0.12  # Monte Carlo error of the mean over 2 × 2000 samples is about 0.04
    assert errors[2000] < errors[100]


def test_point_masses_give_tc_of_empirical_distribution() -> None:
    # Tiny posteriors make q(z) the empirical distribution of N distinct points, whose TC is (D − 1)·log N.
    z, mu, logvar = posterior_sample(500, equicorrelated(3, 0.0), 1e-8, torch.Generator().manual_seed(5))
    assert float(total_correlation(z, mu, logvar, n_data=500)) == pytest.approx(2 * math.log(500), rel=0.02)


def test_estimators_agree_when_batch_is_dataset() -> None:
    z, mu, logvar = posterior_sample(64, equicorrelated(3, 0.5), 0.2, torch.Generator().manual_seed(6))
    mss = kl_decomposition(z, mu, logvar, n_data=64, estimator="mss")
    mws = kl_decomposition(z, mu, logvar, n_data=64, estimator="mws")
    torch.testing.assert_close(torch.stack(mss), torch.stack(mws))


def test_mss_density_estimate_is_unbiased() -> None:
    # q(z) itself, for a sample of one fixed cell, averaged over random batches containing that
    # cell, must equal (1/N) Σ_n q(z | n); a wrong weight matrix fails this.
    generator = torch.Generator().manual_seed(7)
    n_data, batch_size = 40, 8
    mu = torch.randn(n_data, 2, dtype=torch.float64, generator=generator)
    logvar = torch.randn(n_data, 2, dtype=torch.float64, generator=generator) * 0.3 - 0.5
    z0 = mu[0] + torch.exp(0.5 * logvar[0]) * torch.randn(2, dtype=torch.float64, generator=generator)
    component = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z0)  # n_data × 2
    true_joint = torch.logsumexp(component.sum(1), 0) - math.log(n_data)
    true_marginals = torch.logsumexp(component, 0) - math.log(n_data)
    joint, marginals = [], []
    for _ in range(4000):
        others = 1 + torch.randperm(n_data - 1, generator=generator)[:batch_size - 1]
        cells = torch.cat([torch.zeros(1, dtype=torch.long), others])
        z = mu[cells].clone()
        z[0] = z0
        _, log_qz, log_qz_marginals = _aggregate_log_densities(z, mu[cells], logvar[cells], n_data, "mss")
        joint.append(log_qz[0].exp())
        marginals.append(log_qz_marginals[0].exp())
    torch.testing.assert_close(torch.stack(joint).mean().log(), true_joint, atol=0.03, rtol=0)
    torch.testing.assert_close(torch.stack(marginals).mean(0).log(), true_marginals, atol=0.03, rtol=0)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_uninformative_encoder_has_zero_mi_and_tc(estimator: str) -> None:
    # Every cell gets the same diagonal posterior: q(z) = q(z | x), which factorises, so MI = TC = 0
    # and the dimension-wise KL is all of the KL. Holds exactly only if each row's weights sum to 1.
    generator = torch.Generator().manual_seed(8)
    mu = torch.randn(1, 4, dtype=torch.float64, generator=generator).expand(128, 4)
    logvar = torch.randn(1, 4, dtype=torch.float64, generator=generator).expand(128, 4)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(128, 4, dtype=torch.float64, generator=generator)
    mi, tc, dimwise_kl = kl_decomposition(z, mu, logvar, n_data=10_000, estimator=estimator)
    assert abs(float(mi)) < 1e-9 and abs(float(tc)) < 1e-9
    torch.testing.assert_close(dimwise_kl, monte_carlo_kl(z, mu, logvar).mean())


def test_identifying_posteriors_have_mi_log_n() -> None:
    # Narrow, well-separated posteriors identify their cell: I(x; z) = H(x) = log N, which
    # MSS recovers from a batch much smaller than the dataset; MWS sees only the batch (log M).
    mu = torch.arange(64, dtype=torch.float64)[:, None].repeat(1, 2) * 10.0
    logvar = torch.full_like(mu, math.log(1e-4))
    z = mu + 1e-2 * torch.randn(mu.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    mi_mss = kl_decomposition(z, mu, logvar, n_data=100_000, estimator="mss")[0]
    mi_mws = kl_decomposition(z, mu, logvar, n_data=100_000, estimator="mws")[0]
    assert float(mi_mss) == pytest.approx(math.log(100_000), abs=1e-6)
    assert float(mi_mws) == pytest.approx(math.log(64), abs=1e-6)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_decomposition_sums_to_monte_carlo_kl(estimator: str) -> None:
    # MI + TC + dimension-wise KL telescopes, cell by cell, to log q(z|x) − log p(z): exactly the
    # one-sample Monte Carlo KL, whose mean is the analytic KL within its standard error.
    generator = torch.Generator().manual_seed(10)
    z, mu, logvar = posterior_sample(1000, equicorrelated(3, 0.6), 0.2, generator)
    logvar = logvar + 0.3 * torch.randn(logvar.shape, dtype=torch.float64, generator=generator)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, dtype=torch.float64, generator=generator)
    terms = kl_decomposition(z, mu, logvar, n_data=20_000, estimator=estimator)
    per_cell = monte_carlo_kl(z, mu, logvar)
    torch.testing.assert_close(sum(terms), per_cell.mean())
    standard_error = float(per_cell.std() / math.sqrt(len(per_cell)))
    assert float(sum(terms)) == pytest.approx(float(kl_per_dimension(mu, logvar).sum(-1).mean()),
                                              abs=4 * standard_error)


def test_estimator_input_checks() -> None:
    z = torch.randn(16, 3)
    with pytest.raises(ValueError, match="estimator"):
        total_correlation(z, z, torch.zeros_like(z), n_data=100, estimator="naive")
    with pytest.raises(ValueError, match="n_data"):
        total_correlation(z, z, torch.zeros_like(z), n_data=8, estimator="mss")
    with pytest.raises(ValueError, match="at least 2"):
        total_correlation(z[:1], z[:1], torch.zeros_like(z[:1]), n_data=100)


# --- β-TCVAE ------------------------------------------------------------------------------------

def test_tcvae_with_unit_weights_matches_elbo(vae_output: VAEOutput) -> None:
    tcvae = BetaTCVAE(beta=1.0, alpha=1.0, gamma=1.0, n_data=10_000)(vae_output, 1.0)
    elbo = BetaVAE(beta=1.0)(vae_output, 1.0)
    torch.testing.assert_close(tcvae["recon"], elbo["recon"])
    mc_kl = monte_carlo_kl(vae_output.z, vae_output.qz_mu, vae_output.qz_logvar)
    torch.testing.assert_close(tcvae["loss"], elbo["recon"] + mc_kl.mean())
    standard_error = float(mc_kl.std() / math.sqrt(len(mc_kl)))
    assert float(tcvae["loss"]) == pytest.approx(float(elbo["loss"]), abs=4 * standard_error)


def test_tcvae_weights_and_warmup(vae_output: VAEOutput) -> None:
    objective = BetaTCVAE(beta=6.0, alpha=0.5, gamma=2.0, n_data=10_000, kl_warmup_share=0.5)
    terms = objective(vae_output, 0.25)
    expected = terms["recon"] + 0.5 * (0.5 * terms["mi"] + 6.0 * terms["tc"] + 2.0 * terms["dimwise_kl"])
    torch.testing.assert_close(terms["loss"], expected)
    torch.testing.assert_close(objective(vae_output, 0.0)["loss"], terms["recon"])
    assert set(terms) == {"loss", "recon", "kl", "mi", "tc", "dimwise_kl"}
    assert all(value.dim() == 0 for value in terms.values())


def test_tcvae_gradient_reaches_encoder(vae_output: VAEOutput) -> None:
    z = vae_output.z.detach().requires_grad_()
    out = output_from(z, vae_output.qz_mu.detach(), vae_output.qz_logvar.detach())
    BetaTCVAE(n_data=10_000)(out, 1.0)["loss"].backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


# --- FactorVAE ----------------------------------------------------------------------------------

def correlated_z(n_cells: int, rho: float = 0.9) -> torch.Tensor:
    cov = equicorrelated(2, rho).float()
    return torch.randn(n_cells, 2) @ torch.linalg.cholesky(cov).T


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_discriminator_learns_tc(precision: str) -> None:
    torch.manual_seed(11)
    objective = FactorVAE(n_latent=2, discriminator_width=64, discriminator_lr=1e-3, discriminator_precision=precision)
    losses = [objective.update(output_from(correlated_z(256)))["discriminator_loss"] for _ in range(300)]
    assert sum(losses[:10]) / 10 > 0.67  # chance is log 2 = 0.693
    assert sum(losses[-20:]) / 20 < 0.55
    # The density-ratio estimate is then close to the true TC of the Gaussian.
    tc = float(objective(output_from(correlated_z(4096)), 1.0)["tc"])
    assert tc == pytest.approx(gaussian_tc(equicorrelated(2, 0.9)), abs=0.3)  # 0.83 nats


def test_bfloat16_discriminator_rounds_only_its_products() -> None:
    torch.manual_seed(13)
    exact = FactorVAE(n_latent=2, discriminator_precision="float32")
    rounded = FactorVAE(n_latent=2, discriminator_precision="bfloat16")
    rounded.load_state_dict(exact.state_dict())
    z = correlated_z(256)
    logits, logits_bf16 = exact._discriminate(z), rounded._discriminate(z)
    assert logits_bf16.dtype == torch.float32
    # bfloat16 keeps 8 significant bits: the logits move, by about 2^-8 of their scale.
    difference = (logits_bf16 - logits).abs().max() / logits.abs().max()
    assert 0 < difference < 0.05
    rounded.update(output_from(z))
    state = rounded.optimizer.state_dict()["state"]
    assert all(p.dtype == torch.float32 for p in rounded.discriminator.parameters())
    assert all(entry["exp_avg"].dtype == torch.float32 for entry in state.values())


def test_discriminator_precision_resolves_per_device() -> None:
    assert discriminator_dtype("float32", torch.device("cpu")) == torch.float32
    assert discriminator_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    assert discriminator_dtype("auto", torch.device("meta")) == torch.float32  # no native bfloat16 known
    with pytest.raises(ValueError, match="discriminator_precision must be one of auto, float32, bfloat16, got 'half'"):
        FactorVAE(n_latent=2, discriminator_precision="half")


def test_the_config_schema_offers_the_discriminator_precisions_the_objective_takes() -> None:
    import yaml

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    offered = schema["definitions"]["sweep_entry"]["properties"]["discriminator_precision"]["enum"]
    assert tuple(offered) == DISCRIMINATOR_PRECISIONS


def test_factorvae_loss_and_gradients(vae_output: VAEOutput) -> None:
    objective = FactorVAE(gamma=10.0, n_latent=5, kl_warmup_share=0.5)
    assert len([m for m in objective.discriminator if isinstance(m, torch.nn.Linear)]) == 6
    z = vae_output.z.detach().requires_grad_()
    out = output_from(z, vae_output.qz_mu.detach(), vae_output.qz_logvar.detach())
    terms = objective(out, 0.25)
    torch.testing.assert_close(terms["loss"], terms["recon"] + 0.5 * (terms["kl"] + 10.0 * terms["tc"]))
    terms["loss"].backward()
    # The VAE's loss moves z but leaves the discriminator's gradients untouched.
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(p.grad is None for p in objective.discriminator.parameters())


def test_factorvae_state_dict_round_trip() -> None:
    torch.manual_seed(12)
    trained = FactorVAE(n_latent=2)  # the paper's discriminator
    for _ in range(3):
        trained.update(output_from(correlated_z(64)))
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)
    restored = FactorVAE(n_latent=2)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.optimizer.state_dict()["state"][0]["step"] == 3
    z = correlated_z(64)
    torch.manual_seed(13)
    expected = trained.update(output_from(z))
    torch.manual_seed(13)
    assert restored.update(output_from(z)) == expected
    for a, b in zip(trained.state_dict().values(), restored.state_dict().values()):
        if torch.is_tensor(a):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # A second objective loaded from the same state keeps Adam's moments of its own.
    twin = FactorVAE(n_latent=2)
    twin.load_state_dict(copy.deepcopy(restored.state_dict()))
    before = copy.deepcopy(restored.optimizer.state_dict()["state"])
    twin.update(output_from(z))
    torch.testing.assert_close(restored.optimizer.state_dict()["state"], before)


def test_factorvae_updates_are_deterministic_under_seed() -> None:
    def run() -> list[float]:
        torch.manual_seed(14)
        objective = FactorVAE(n_latent=2, discriminator_width=32)
        return [objective.update(output_from(correlated_z(32)))["discriminator_loss"] for _ in range(3)]
    assert run() == run()


# --- shared behaviour ---------------------------------------------------------------------------

def make(name: str, **params: float) -> torch.nn.Module:
    """As the fit code builds objectives: each gets the dataset's n_data or n_latent where it takes them."""
    defaults = {"tcvae": {"beta": 6.0, "n_data": 10_000}, "factorvae": {"n_latent": 5, "discriminator_width": 32}}
    return make_objective(name, kl_warmup_share=0.0, **{**defaults[name], **params})


@pytest.mark.parametrize("name", ["tcvae", "factorvae"])
def test_nan_propagates_to_loss(name: str, vae_output: VAEOutput) -> None:
    objective = make(name)
    out = output_from(vae_output.z.detach(), vae_output.qz_mu.detach(), vae_output.qz_logvar.detach())
    out.recon = out.recon.clone()
    out.recon[3] = math.nan
    assert math.isnan(float(objective(out, 1.0)["loss"]))
    z = out.z.clone()
    z[5, 1] = math.nan
    assert math.isnan(float(objective(output_from(z, out.qz_mu, out.qz_logvar), 1.0)["loss"]))


def test_discriminator_skips_non_finite_batch() -> None:
    objective = make("factorvae")
    before = copy.deepcopy(objective.state_dict())
    z = torch.randn(32, 5)
    z[0, 0] = math.inf
    assert math.isnan(objective.update(output_from(z))["discriminator_loss"])
    for key, value in objective.state_dict().items():
        if torch.is_tensor(value):
            torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_registry_and_required_keywords() -> None:
    assert OBJECTIVES["tcvae"] is BetaTCVAE and OBJECTIVES["factorvae"] is FactorVAE
    tcvae = make("tcvae")
    assert (tcvae.beta, tcvae.alpha, tcvae.gamma, tcvae.tc_estimator) == (6.0, 1.0, 1.0, "mss")
    assert make("factorvae").gamma == 10.0
    assert make("factorvae", gamma=6.0).gamma == 6.0
    with pytest.raises(ValueError, match="n_data"):
        make_objective("tcvae", beta=6.0)
    with pytest.raises(ValueError, match="n_latent"):
        make_objective("factorvae", gamma=10.0)
    with pytest.raises(ValueError, match="tc_estimator"):
        make_objective("tcvae", n_data=100, tc_estimator="naive")
