import math

import pytest
import torch

from scbeta.module import VAEOutput, kl_per_dimension
from scbeta.objectives import OBJECTIVES, BetaVAE, CapacityVAE, make_objective


def output(recon, kl):
    n = len(recon)
    zeros = torch.zeros(n, 2)
    return VAEOutput(z=zeros, qz_mu=zeros, qz_logvar=zeros, recon=torch.tensor(recon), kl=torch.tensor(kl))


def test_kl_matches_the_closed_form():
    mu = torch.tensor([[1.0, -2.0]])
    logvar = torch.tensor([[math.log(0.5), math.log(2.0)]])
    # ½ Σ (σ² + μ² − 1 − log σ²) = ½ [(0.5 + 1 − 1 − log 0.5) + (2 + 4 − 1 − log 2)]
    expected = 0.5 * ((0.5 + 1 - 1 - math.log(0.5)) + (2 + 4 - 1 - math.log(2.0)))
    assert kl_per_dimension(mu, logvar).sum(-1).item() == pytest.approx(expected)


def test_kl_of_the_prior_is_zero():
    assert kl_per_dimension(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max().item() == 0.0


def test_beta_vae_weighs_the_kl():
    terms = BetaVAE(beta=4.0)(output([10.0, 20.0], [1.0, 3.0]), progress=0.5)
    assert terms["loss"].item() == pytest.approx(15.0 + 4.0 * 2.0)


def test_kl_warmup_ramps_the_weight():
    objective = BetaVAE(beta=2.0, kl_warmup_share=0.5)
    out = output([10.0], [4.0])
    assert objective(out, 0.0)["loss"].item() == pytest.approx(10.0)
    assert objective(out, 0.25)["loss"].item() == pytest.approx(10.0 + 0.5 * 2.0 * 4.0)
    assert objective(out, 0.9)["loss"].item() == pytest.approx(10.0 + 2.0 * 4.0)


def test_capacity_rises_linearly_then_holds():
    objective = CapacityVAE(beta=3.0, c_max=10.0, capacity_share=0.5)
    assert objective.capacity(0.0) == 0.0
    assert objective.capacity(0.25) == pytest.approx(5.0)
    assert objective.capacity(0.5) == pytest.approx(10.0)
    assert objective.capacity(1.0) == pytest.approx(10.0)


def test_capacity_term_is_per_cell_absolute_gap():
    objective = CapacityVAE(beta=3.0, c_max=10.0, capacity_share=0.5)
    # At progress 0.25, C = 5: |2 − 5| = 3 and |9 − 5| = 4, mean 3.5.
    terms = objective(output([1.0, 3.0], [2.0, 9.0]), progress=0.25)
    assert terms["loss"].item() == pytest.approx(2.0 + 3.0 * 3.5)
    assert terms["C"].item() == pytest.approx(5.0)


def test_capacity_zero_equals_beta_vae():
    out = output([5.0, 7.0], [1.5, 2.5])
    assert CapacityVAE(beta=2.0, c_max=0.0)(out, 0.7)["loss"].item() == pytest.approx(
        BetaVAE(beta=2.0)(out, 0.7)["loss"].item())


def test_objectives_are_chosen_by_name():
    assert {"beta", "capacity"} <= set(OBJECTIVES)
    objective = make_objective("capacity", beta=2.0, c_max=4.0)
    assert isinstance(objective, CapacityVAE) and objective.c_max == 4.0
    with pytest.raises(ValueError, match="objective must be one of"):
        make_objective("nope")


def test_unknown_keyword_is_an_error_naming_objective_and_key():
    with pytest.raises(ValueError, match="objective 'capacity' takes no 'gamma'"):
        make_objective("capacity", beta=2.0, gamma=9.0)


@pytest.mark.parametrize("bad", [{"beta": 0.0}, {"beta": -1.0}, {"c_max": -1.0}])
def test_bad_weights_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        CapacityVAE(**bad)
