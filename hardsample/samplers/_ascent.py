"""Climb the predictive variance in the latent space, through the decoder.

No label is needed: the objective of a code ``z`` is

    log Var[f(G(z))] - prior_weight * ||L^-1 (z - mu)||^2 / 2

the log of the draws' variance (averaged over output entries) of the decoded sample
plus ``prior_weight`` times the log density of the generator's Gaussian prior
``N(mu, L L^T)`` (``N(0, I)`` unless the generator has an aggregate prior): it
maximizes ``variance * prior_density ** prior_weight``, so the ascent seeks uncertain
samples where the generator's decodes stay plausible. The log makes the objective
independent of the targets' units. The ascent takes ``n_steps`` normalized gradient
steps of ``path_length / n_steps`` each: a code never moves further than
``path_length`` from where it started (a trust region around its anchor).
"""

import numpy as np
import torch

from ..hardness import normalize_rows

#: Added to the variance before its log (a flat, zero-variance region has no gradient).
VARIANCE_FLOOR = 1e-12


def _prior(generator, device):
    mean = getattr(generator, "prior_mean_", None)
    scale = getattr(generator, "prior_scale_", None)
    if mean is None or scale is None:
        return None, None
    return (torch.as_tensor(np.asarray(mean, dtype=np.float32), device=device),
            torch.as_tensor(np.asarray(scale, dtype=np.float32), device=device))


def prior_penalty(z, mean=None, scale=None):
    """``||L^-1 (z - mu)||^2 / 2`` per row (``||z||^2 / 2`` without a fitted prior)."""
    if mean is None:
        return 0.5 * (z ** 2).sum(dim=1)
    whitened = torch.linalg.solve_triangular(scale, (z - mean).T, upper=False).T
    return 0.5 * (whitened ** 2).sum(dim=1)


def variance_objective(source, decoder, z, prior=(None, None), prior_weight=1.0):
    """The objective of each row of the torch codes ``z`` (differentiable)."""
    draws = source.draws_tensor(decoder(z))
    variance = draws.reshape(draws.shape[0], draws.shape[1], -1).var(dim=0, unbiased=False)
    return (torch.log(variance.mean(dim=1) + VARIANCE_FLOOR).to(z.device)
            - prior_weight * prior_penalty(z, *prior))


def ascend_variance(source, generator, Z, path_length, *, n_steps, prior_weight):
    """Ascend the objective from codes ``Z``; row ``i`` travels at most ``path_length[i]``.

    Parameters
    ----------
    source : fitted DeepEnsemble or MCDropout
    generator : fitted generator with ``decoder_``
    Z : ndarray of shape (m, latent_dim)
    path_length : ndarray of shape (m,)
    n_steps : int
    prior_weight : float

    Returns
    -------
    ndarray of shape (m, latent_dim), float32
    """
    decoder = generator.decoder_
    device = next(iter(decoder.parameters()), torch.empty(0)).device
    prior = _prior(generator, device)
    step = torch.as_tensor(np.asarray(path_length, dtype=np.float32) / n_steps,
                           device=device)[:, None]
    z = torch.as_tensor(np.asarray(Z, dtype=np.float32), device=device)
    for _ in range(n_steps):
        z = z.detach().requires_grad_(True)
        with torch.enable_grad():
            objective = variance_objective(source, decoder, z, prior, prior_weight)
            (grad,) = torch.autograd.grad(objective.sum(), z)
        direction = torch.as_tensor(normalize_rows(grad.detach().cpu().numpy()), device=device)
        z = z.detach() + step * direction
    return z.detach().cpu().numpy().astype(np.float32)
