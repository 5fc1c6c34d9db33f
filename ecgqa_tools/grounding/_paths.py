"""IG variants that change the integration **path** or average several paths (session 4
candidates, docs/grounding.md "Session 4: attribution paths"). All work on (batch, leads,
samples) model inputs in the model's input space and return a map of the same shape whose sum is
(close to) the logit change along the path:

- ``blur_ig``: Blur IG (Xu et al., CVPR 2020): the path runs through Gaussian scale space, from
  the input blurred with ``sigma_max`` down to the input itself, per lead in time.
- ``smooth_ig``: a SmoothGrad noise tunnel (Smilkov et al. 2017) over straight-line IG: IG from
  one baseline to several noisy copies of the input, averaged.
- ``guided_ig``: Guided IG (Kapishnikov et al., CVPR 2021): an adaptive path that moves the
  features with the smallest |gradient| to their input values first. Written from the paper's
  description, without its maximum-distance constraint around the straight line.

The multi-cut-off low-pass expectation (``lowpass-multi``) needs no path code of its own: its
references come from ``blurred_references`` and IG is averaged with
``_attribution.multi_reference_ig``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import torch


def gaussian_blur(x: np.ndarray, sigma_samples: float) -> np.ndarray:
    """``x`` (..., samples) blurred along time with a Gaussian of ``sigma_samples`` (edges held,
    as the ``lowpass`` baseline); ``sigma_samples <= 0`` returns a float32 copy of ``x``."""
    from scipy.ndimage import gaussian_filter1d

    data = np.asarray(x, dtype=np.float32)
    if sigma_samples <= 0:
        return data.copy()
    return gaussian_filter1d(data, sigma=float(sigma_samples), axis=-1, mode="nearest").astype(np.float32)


def blurred_references(inputs: np.ndarray, sigmas_s: tuple[float, ...], fs_hz: float) -> np.ndarray:
    """(batch, len(sigmas_s), leads, samples): each input blurred at each sigma (seconds)."""
    x = np.asarray(inputs, dtype=np.float32)
    if x.ndim != 3:
        raise UsageError(f"references need (batch, leads, samples) inputs, got shape {x.shape}")
    if not sigmas_s or min(sigmas_s) <= 0:
        raise UsageError(f"blur widths must be positive seconds, got {sigmas_s}")
    return np.stack([gaussian_blur(x, s * fs_hz) for s in sigmas_s], axis=1)


def _gradients(module: Any, points: "torch.Tensor", per_pass: int) -> "torch.Tensor":
    """d logit / d input at each of ``points`` (n, leads, samples), ``per_pass`` points a pass."""
    import torch

    from ._attribution import _forward_logit

    forward = _forward_logit(module)
    parts = []
    with torch.enable_grad():  # callers may be inside torch.no_grad()
        for start in range(0, points.shape[0], per_pass):
            chunk = points[start:start + per_pass].detach().clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(forward(chunk).sum(), chunk)
            parts.append(grad)
    return torch.cat(parts)


POINTS_PER_PASS = 64
"""Gradient points per forward/backward pass of ``blur_ig`` (inputs x path points)."""


def blur_ig(module: Any, inputs: "torch.Tensor", fs_hz: float, sigma_max_s: float,
            n_segments: int) -> "torch.Tensor":
    """Blur IG of the logit of ``module`` for (batch, leads, samples) ``inputs``.

    Path points p_i = G(sigma_i) * x with sigma_i = sigma_max (1 - i / n), i = 0..n (p_n = x);
    the map is sum_i grad(G(sigma_mid_i) * x) * (p_{i+1} - p_i), sigma_mid_i the middle of the
    segment (midpoint rule per segment). Sums to logit(x) - logit(G(sigma_max) * x) up to the
    discretisation error. One gradient point per segment.
    """
    import torch

    if n_segments < 1 or sigma_max_s <= 0:
        raise UsageError(f"Blur IG needs >= 1 segment and a positive sigma, got {n_segments}, {sigma_max_s}")
    x = inputs.detach().numpy().astype(np.float32)
    sigma_max = sigma_max_s * fs_hz
    ends = [gaussian_blur(x, sigma_max * (1 - i / n_segments)) for i in range(n_segments + 1)]
    mids = np.stack([gaussian_blur(x, sigma_max * (1 - (i + 0.5) / n_segments)) for i in range(n_segments)])
    steps = np.stack([ends[i + 1] - ends[i] for i in range(n_segments)])  # (n, batch, leads, samples)
    points = torch.from_numpy(mids.reshape(-1, *x.shape[1:]))
    grads = _gradients(module, points, POINTS_PER_PASS).reshape(mids.shape)
    return (grads * torch.from_numpy(steps)).sum(dim=0).to(inputs.dtype)


def noise_draws(n_draws: int, noise_sd: float, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """The seeded noise of the SmoothGrad tunnels, (n_draws, *shape) float32: the same draws for
    every input of a batch (``numpy.random.default_rng(seed)``), so the paths' noisy end points can
    be rebuilt for their logits (``_attribution.path_end_logits``)."""
    return np.random.default_rng(seed).normal(0.0, noise_sd, (n_draws, *shape)).astype(np.float32)


def smooth_ig(module: Any, inputs: "torch.Tensor", baseline: "torch.Tensor", n_draws: int,
              noise_sd: float, n_steps: int, seed: int) -> "torch.Tensor":
    """Mean over ``n_draws`` noisy copies x + e (e ~ N(0, noise_sd^2) per sample, the same draws
    for every input of the batch: ``numpy.random.default_rng(seed)``) of straight-line IG from
    ``baseline`` (of the clean input) to x + e, ``n_steps`` Gauss-Legendre points each.
    Completeness holds per draw: the sum is mean_k logit(x + e_k) - logit(baseline)."""
    import torch

    from ._attribution import paired_ig

    if n_draws < 1 or noise_sd < 0:
        raise UsageError(f"SmoothGrad-IG needs >= 1 draw and noise_sd >= 0, got {n_draws}, {noise_sd}")
    batch = inputs.shape[0]
    noise = noise_draws(n_draws, noise_sd, tuple(inputs.shape[1:]), seed)
    noisy = inputs.detach().unsqueeze(1) + torch.from_numpy(noise).unsqueeze(0)
    bases = baseline.detach().unsqueeze(1).expand_as(noisy)
    flat_x = noisy.reshape(batch * n_draws, *inputs.shape[1:])
    flat_b = bases.reshape(batch * n_draws, *inputs.shape[1:])
    return paired_ig(module, flat_x, flat_b, n_steps).reshape(batch, n_draws, *inputs.shape[1:]).mean(dim=1)


def smooth_expected_ig(module: Any, inputs: "torch.Tensor", references: "torch.Tensor", n_draws: int,
                       noise_sd: float, n_steps: int, seed: int) -> "torch.Tensor":
    """Expected gradients with a SmoothGrad noise tunnel: straight-line IG from each of the
    ``references`` (batch, k, leads, samples) to each of ``n_draws`` noisy copies x + e of the
    input (e ~ N(0, noise_sd^2) per sample, the same draws for every reference and input:
    ``numpy.random.default_rng(seed)``), ``n_steps`` Gauss-Legendre points each, the k x n_draws
    maps averaged. Sums to mean_j logit(x + e_j) - mean_k logit(reference_k)."""
    import torch

    from ._attribution import multi_reference_ig

    if n_draws < 1 or noise_sd < 0:
        raise UsageError(f"SmoothGrad needs >= 1 draw and noise_sd >= 0, got {n_draws}, {noise_sd}")
    noise = noise_draws(n_draws, noise_sd, tuple(inputs.shape[1:]), seed)
    maps = [multi_reference_ig(module, inputs.detach() + torch.from_numpy(e).unsqueeze(0), references, n_steps)
            for e in noise]
    return torch.stack(maps).mean(dim=0)


def guided_ig(module: Any, inputs: "torch.Tensor", baseline: "torch.Tensor", n_steps: int,
              fraction: float = 0.1) -> "torch.Tensor":
    """Guided IG from ``baseline`` to ``inputs`` (both (batch, leads, samples)) in ``n_steps``.

    At step k the gradient is taken at the current path point; then the features (lead, sample)
    not yet at their input value with the smallest |gradient| are moved to it, ``fraction`` of
    those features at a time (the last chunk only partly), until the L1 distance to the input is
    (1 - k / n_steps) of the start. The map is the sum of gradient x move (left point per move),
    so it sums to logit(x) - logit(baseline) up to the discretisation error; after the last step
    the path point is the input.
    """
    import torch

    if n_steps < 1 or not 0 < fraction <= 1:
        raise UsageError(f"Guided IG needs >= 1 step and 0 < fraction <= 1, got {n_steps}, {fraction}")
    target = inputs.detach().numpy().astype(np.float64).reshape(inputs.shape[0], -1)
    current = baseline.detach().numpy().astype(np.float64).reshape(inputs.shape[0], -1).copy()
    start_l1 = np.abs(target - current).sum(axis=1)
    attr = np.zeros_like(current)
    for k in range(1, n_steps + 1):
        point = torch.from_numpy(current.astype(np.float32).reshape(inputs.shape))
        grad = _gradients(module, point, POINTS_PER_PASS).numpy().astype(np.float64).reshape(current.shape)
        for b in range(current.shape[0]):
            goal = start_l1[b] * (1.0 - k / n_steps)
            _guided_moves(current[b], target[b], grad[b], attr[b], goal, fraction)
    return torch.from_numpy(attr.reshape(inputs.shape).astype(np.float32)).to(inputs.dtype)


def _guided_moves(current: np.ndarray, target: np.ndarray, grad: np.ndarray, attr: np.ndarray,
                  goal_l1: float, fraction: float) -> None:
    """One Guided-IG step on one flattened input, in place: move the lowest-|gradient| features
    until ``|target - current|_1 <= goal_l1``; ``attr`` gains gradient x move."""
    remaining = target - current
    need = float(np.abs(remaining).sum()) - goal_l1
    order = np.abs(grad)
    while need > 0:
        active = np.flatnonzero(remaining != 0)
        if active.size == 0:
            return
        if goal_l1 <= 0:  # last step: everything left goes to the input
            chosen = active
        else:
            n_chunk = max(1, int(np.ceil(fraction * active.size)))
            chosen = active[np.argpartition(order[active], n_chunk - 1)[:n_chunk]] if n_chunk < active.size else active
        chunk_l1 = float(np.abs(remaining[chosen]).sum())
        share = 1.0 if chunk_l1 <= need or goal_l1 <= 0 else need / chunk_l1
        move = remaining[chosen] * share
        attr[chosen] += grad[chosen] * move
        if share < 1.0:  # the goal is reached inside this chunk
            current[chosen] += move
            return
        current[chosen] = target[chosen]
        remaining[chosen] = 0.0
        need -= chunk_l1
