"""
SNN vs random sampling on MNIST
===============================

The paper's first study in miniature. Stage 1 fits the paper's MLP VAE (latent
dimension 3) on an unlabeled MNIST pool; stage 2 trains LeNet in rounds, labeling
either the nearest unlabeled sample to each gradient-stepped latent code (SNN) or
random samples. Both strategies share the seeds, the VAE, the net and the budget,
so round 1 is identical.

MNIST is read from ``mnist.npz`` in ``$HARDSAMPLE_DATA`` (or downloaded).
"""

import numpy as np
import torch
from skorch import NeuralNetClassifier
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from hardsample import LatentHardMiningClassifier
from hardsample.curves import markdown_table, run_learning_curves, summarize
from hardsample.datasets import load_mnist
from hardsample.generators import VAETransformer
from hardsample.nets import LeNet
from hardsample.plotting import plot_learning_curves

torch.set_num_threads(2)
mnist = load_mnist()
rng = np.random.RandomState(0)
pool = rng.choice(len(mnist.X_train), size=3000, replace=False)
X_pool = (mnist.X_train[pool] / 255.0).astype("float32")[:, None]
y_pool = mnist.y_train[pool]
X_test = (mnist.X_test[:2000] / 255.0).astype("float32")[:, None]
y_test = mnist.y_test[:2000]

# %%
# Stage 1: the VAE sees the pool without labels.
vae = VAETransformer(latent_dim=3, max_epochs=8, random_state=0).fit(X_pool)

# %%
# Stage 2: the same meta-estimator with two samplers.
net = NeuralNetClassifier(LeNet, criterion=torch.nn.CrossEntropyLoss,
                          optimizer=torch.optim.Adam, lr=3e-3, max_epochs=10,
                          batch_size=32, verbose=0)
base = LatentHardMiningClassifier(net, FrozenEstimator(vae), initial_size=50, round_size=50,
                                  n_rounds=4, retrain="scratch")
strategies = {name: clone(base).set_params(sampler=name) for name in ("nearest", "random")}
records = run_learning_curves(strategies, X_pool, y_pool, X_test, y_test, n_rounds=4,
                              seeds=[0, 1], progress=False)
summary = summarize(records)
print(markdown_table(summary, title="accuracy (%)"))
plot_learning_curves(summary)

# %%
# With two seeds and four rounds the bands are wide: see the benchmarks for the
# full study, where SNN as the paper writes it ties with random sampling.
