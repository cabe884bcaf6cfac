"""
SNN vs random sampling on digits
================================

Fit a VAE on the unlabeled digits, then compare the paper's sampling by nearest
neighbour (SNN) with random sampling, same seeds, net and budget.
"""

import torch
from skorch import NeuralNetClassifier
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from hardsample import LatentHardMiningClassifier
from hardsample.curves import markdown_table, run_learning_curves, summarize
from hardsample.generators import VAETransformer
from hardsample.nets import SmallConvNet
from hardsample.plotting import plot_learning_curves

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32").reshape(-1, 1, 8, 8)
X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=500, stratify=y,
                                                  random_state=0)

vae = VAETransformer(latent_dim=3, max_epochs=30, random_state=0).fit(X_pool)
net = NeuralNetClassifier(SmallConvNet, criterion=torch.nn.CrossEntropyLoss,
                          optimizer=torch.optim.Adam, lr=3e-3, max_epochs=30,
                          batch_size=64, verbose=0)
base = LatentHardMiningClassifier(net, FrozenEstimator(vae), initial_size=30, round_size=30,
                                  n_rounds=6, retrain="scratch")
strategies = {name: clone(base).set_params(sampler=name) for name in ("nearest", "random")}
records = run_learning_curves(strategies, X_pool, y_pool, X_test, y_test, n_rounds=6,
                              seeds=range(3), progress=False)
summary = summarize(records)
print(markdown_table(summary, title="accuracy (%)"))
plot_learning_curves(summary)
