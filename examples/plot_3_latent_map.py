"""
A latent map with mining trajectories
=====================================

The paper's Figure 4 on scikit-learn's digits: a VAE with a 2-D latent space, a net
trained on a few labels, and SNN followed from a few anchors without re-drawing
them. Trajectories that walk along class boundaries visit the ambiguous samples
SNN is meant to find; those that run off the edge of the data find nothing new.
"""

import numpy as np
import torch
from skorch import NeuralNetClassifier
from sklearn.datasets import load_digits

from hardsample.generators import VAETransformer
from hardsample.nets import SmallConvNet
from hardsample.plotting import plot_latent_map
from hardsample.samplers.nearest import snn_trajectories

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32").reshape(-1, 1, 8, 8)
vae = VAETransformer(latent_dim=2, hidden_sizes=(128, 64), max_epochs=60, lr=3e-3,
                     random_state=0).fit(X)
codes = vae.transform(X)

rng = np.random.RandomState(0)
labeled = rng.choice(len(X), size=150, replace=False)
torch.manual_seed(0)
net = NeuralNetClassifier(SmallConvNet, criterion=torch.nn.CrossEntropyLoss,
                          optimizer=torch.optim.Adam, lr=3e-3, max_epochs=30,
                          train_split=None, iterator_train__shuffle=True,
                          verbose=0).fit(X[labeled], y[labeled])

paths = snn_trajectories(net, vae, codes, y, rng.choice(labeled, 5, replace=False),
                         n_steps=10, step_size=0.5)
print("classes along each trajectory:")
for letter, path in zip("abcde", paths):
    print(letter, y[path])
plot_latent_map(codes, y, paths)
