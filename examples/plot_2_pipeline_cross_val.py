"""
Latent mining inside a Pipeline, scored by cross-validation
===========================================================

The meta-estimators are ordinary scikit-learn estimators: they sit at the end of
a :class:`~sklearn.pipeline.Pipeline`, are cloned by
:func:`~sklearn.model_selection.cross_val_score` for every fold (each fold's pool
is its training split, labeled only as the sampler asks), and can be tuned by
:class:`~sklearn.model_selection.GridSearchCV`.
"""

import torch
from skorch import NeuralNetClassifier
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from hardsample import LatentHardMiningClassifier
from hardsample.generators import PCAGenerator
from hardsample.nets import MLP
from hardsample.samplers import NearestNeighborSampler

X, y = load_digits(return_X_y=True)
net = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss,
                          optimizer=torch.optim.Adam, lr=1e-2, max_epochs=20, verbose=0)

for sampler in ("nearest", "random", "entropy"):
    pipe = make_pipeline(
        MinMaxScaler(),
        LatentHardMiningClassifier(net, PCAGenerator(n_components=3), sampler=sampler,
                                   initial_size=40, round_size=40, n_rounds=4,
                                   random_state=0),
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    print(f"{sampler:>8}: {scores.mean():.3f} ± {scores.std():.3f} with 160 labels per fold")

# %%
# Tune the sampler's latent step and the net's epochs together: samplers are
# parameter objects, so their settings are ``sampler__<name>`` in a grid.
search = GridSearchCV(
    LatentHardMiningClassifier(net, PCAGenerator(n_components=3),
                               sampler=NearestNeighborSampler(), initial_size=40,
                               round_size=40, n_rounds=3, random_state=0),
    {"sampler__step_size": [0.5, 2.0], "net__max_epochs": [10, 20]}, cv=3,
).fit(X / 16.0, y)
print("best:", search.best_params_, f"{search.best_score_:.3f}")
