"""Small torch helpers: devices, seeded sections and batched inference."""

import contextlib

import numpy as np
import torch


def resolve_device(device):
    """Return a ``torch.device``; ``None`` means CPU, as in skorch."""
    return torch.device("cpu" if device is None else device)


def seed_from(random_state):
    """Draw a 31-bit seed from a ``numpy.random.RandomState``."""
    return int(random_state.randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_seeded(seed, device="cpu"):
    """Run a block with torch's global RNG seeded, leaving the caller's RNG untouched.

    skorch initialises modules and shuffles batches with torch's global generator, so
    a seeded, forked RNG is what makes a run reproducible without side effects.
    """
    device = resolve_device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def batched_apply(module, X, *, batch_size, device, out_shape=None):
    """Apply ``module`` to numpy ``X`` in batches without gradients; returns numpy."""
    outputs = []
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                batch = torch.as_tensor(X[start:start + batch_size], device=device)
                outputs.append(module(batch).detach().cpu().numpy())
    finally:
        module.train(was_training)
    if not outputs:
        shape = (0,) + tuple(out_shape or ())
        return np.empty(shape, dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32, copy=False)
