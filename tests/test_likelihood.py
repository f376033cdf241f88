import numpy as np
import pytest
import scipy.sparse as sp
import torch

from scbeta.module import nb_log_prob, zinb_log_prob
from scbeta.train import CountStore


def _batch(x):
    store = CountStore(sp.csr_matrix(x), torch.device("cpu"))
    return store.batch(torch.arange(x.shape[0]))


def _reference_nb(x, mu, theta):
    # torch's NegativeBinomial(total_count=θ, logits=log μ − log θ) has mean μ.
    dist = torch.distributions.NegativeBinomial(total_count=theta, logits=torch.log(mu) - torch.log(theta))
    return dist.log_prob(x)


def _setup(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.poisson(rng.gamma(0.5, 2.0, size=(6, 9))).astype(np.float32)
    x[:, 0] += 1  # no empty cells
    batch = _batch(x)
    logits = torch.randn(6, 9, generator=torch.Generator().manual_seed(seed))
    log_scale = torch.log_softmax(logits, dim=-1)
    theta = torch.rand(9, generator=torch.Generator().manual_seed(seed + 1)) * 3 + 0.2
    mu = torch.exp(log_scale + batch.log_library[:, None])
    return torch.as_tensor(x), batch, log_scale, theta, mu


def test_batch_gathers_the_right_rows():
    x = np.array([[0, 2, 0], [1, 0, 3], [0, 0, 5]], dtype=np.float32)
    store = CountStore(sp.csr_matrix(x), torch.device("cpu"))
    batch = store.batch(torch.tensor([2, 0]))
    np.testing.assert_array_equal(batch.x.numpy(), x[[2, 0]])
    np.testing.assert_allclose(batch.log_library.numpy(), np.log([5.0, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(batch.log_factorial.numpy(), [np.log(120.0), np.log(2.0)], rtol=1e-5)


def test_nb_matches_torch_distribution():
    x, batch, log_scale, theta, mu = _setup()
    expected = _reference_nb(x, mu, theta).sum(1)
    torch.testing.assert_close(nb_log_prob(batch, log_scale, theta), expected, rtol=1e-4, atol=1e-3)


def test_zinb_matches_the_mixture():
    x, batch, log_scale, theta, mu = _setup(1)
    zi_logits = torch.randn(6, 9, generator=torch.Generator().manual_seed(5))
    pi = torch.sigmoid(zi_logits)
    nb = _reference_nb(x, mu, theta)
    expected = torch.where(x == 0, torch.log(pi + (1 - pi) * nb.exp()), torch.log(1 - pi) + nb).sum(1)
    torch.testing.assert_close(zinb_log_prob(batch, log_scale, theta, zi_logits), expected, rtol=1e-4, atol=1e-3)


def test_zinb_without_inflation_is_nb():
    x, batch, log_scale, theta, mu = _setup(2)
    very_negative = torch.full((6, 9), -30.0)
    torch.testing.assert_close(zinb_log_prob(batch, log_scale, theta, very_negative),
                               nb_log_prob(batch, log_scale, theta), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("zinb", [False, True])
@pytest.mark.parametrize("static", [False, True])
def test_stacked_likelihood_is_each_models_own(zinb, static):
    # Two models, each with its own cells, decoder output and theta: the stacked log-likelihood and
    # its hand-written gradients equal each model's alone (also with padded, fixed-size batches).
    singles = [_setup(0), _setup(3)]
    x = np.concatenate([s[0].numpy() for s in singles])
    batch = CountStore(sp.csr_matrix(x), torch.device("cpu")).batch(torch.arange(12).view(2, 6), static=static)
    generator = torch.Generator().manual_seed(9)
    zi = [torch.randn(6, 9, generator=generator) for _ in singles] if zinb else None

    def log_prob(batch, log_scale, theta, zi_logits):
        return zinb_log_prob(batch, log_scale, theta, zi_logits) if zinb else nb_log_prob(batch, log_scale, theta)

    leaves = [torch.stack([s[i] for s in singles]).requires_grad_() for i in (2, 3)]
    zi_stacked = torch.stack(zi).requires_grad_() if zinb else None
    stacked = log_prob(batch, *leaves, zi_stacked)
    (stacked * torch.tensor([[1.0], [2.0]])).sum().backward()
    for k, (_, single_batch, log_scale, theta, _) in enumerate(singles):
        log_scale, theta = log_scale.clone().requires_grad_(), theta.clone().requires_grad_()
        zi_k = zi[k].clone().requires_grad_() if zinb else None
        alone = log_prob(single_batch, log_scale, theta, zi_k)
        ((k + 1.0) * alone).sum().backward()
        torch.testing.assert_close(stacked[k], alone)
        torch.testing.assert_close(leaves[0].grad[k], log_scale.grad)
        torch.testing.assert_close(leaves[1].grad[k], theta.grad)
        if zinb:
            torch.testing.assert_close(zi_stacked.grad[k], zi_k.grad)
