"""
Sampling by interpolation with a finite-element labeling tool
=============================================================

The paper's third study in miniature: a net learns to replace a finite-element
simulation, mapping a vessel-wall mask to its stress map at peak blood pressure.
The labeling tool (:class:`~hardsample.datasets.VesselStressSolver`, a scikit-fem
hyperelastic solver) answers for *any* mask, so SI synthesizes new masks from the
VAE's latent space; random sampling over the real pool is the baseline.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from skorch import NeuralNetRegressor
from sklearn.frozen import FrozenEstimator

from hardsample import LabelingToolOracle, LatentHardMiningRegressor
from hardsample.datasets import VesselStressSolver, make_vessel_masks
from hardsample.generators import VAETransformer
from hardsample.nets import StressMapNet

S_MAX = 150.0  # kPa: the net predicts stress / S_MAX, in [0, 1]
solver = VesselStressSolver()


def stress_tool(X):
    """Label (n, 1, 64, 64) soft masks with scaled stress maps (n, 64, 64)."""
    masks = np.clip(X[:, 0], 0.0, 1.0)  # decoded masks may round slightly outside [0, 1]
    return (solver(masks) / S_MAX).astype("float32")


masks, _ = make_vessel_masks(300, random_state=0)
X_pool = masks[:, None]
test_masks, _ = make_vessel_masks(20, random_state=1)
y_test = solver(test_masks)

vae = VAETransformer(latent_dim=3, hidden_sizes=(400, 400), max_epochs=15,
                     random_state=0).fit(X_pool)
net = NeuralNetRegressor(StressMapNet, optimizer=torch.optim.Adam, lr=1e-3, max_epochs=30,
                         batch_size=8, verbose=0)

results = {}
for name, sampler in (("SI", "interpolation"), ("random-real", "random")):
    model = LatentHardMiningRegressor(net, FrozenEstimator(vae), sampler=sampler,
                                      initial_size=10, round_size=10, n_rounds=3,
                                      retrain="scratch", random_state=0)
    model.fit(X_pool, oracle=LabelingToolOracle(stress_tool))
    prediction = model.predict(test_masks[:, None]) * S_MAX
    results[name] = (model, prediction)
    print(f"{name:>12}: test MSE {np.mean((prediction - y_test) ** 2):8.1f} kPa², "
          f"{len(model.failed_labels_)} decoded masks rejected by the solver")

# %%
# Synthesized masks, their solver stress and the SI net's prediction.
si_model, si_prediction = results["SI"]
fig, axes = plt.subplots(3, 4, figsize=(8, 6))
for col, index in enumerate(np.linspace(0, len(si_model.X_synthetic_) - 1, 4).astype(int)):
    axes[0, col].imshow(si_model.X_synthetic_[index, 0], cmap="gray")
    axes[1, col].imshow(si_model.y_synthetic_[index] * S_MAX, cmap="inferno")
    axes[2, col].imshow(si_model.predict(si_model.X_synthetic_[index:index + 1])[0] * S_MAX,
                        cmap="inferno")
for ax in axes.ravel():
    ax.set_axis_off()
axes[0, 0].set_title("synthetic masks", loc="left")
axes[1, 0].set_title("solver stress", loc="left")
axes[2, 0].set_title("net prediction", loc="left")
fig.tight_layout()
