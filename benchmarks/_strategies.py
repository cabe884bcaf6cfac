"""Strategies of the benchmark scripts: registered sampler names, with a latent step
and an optional round-1 selection.

A strategy is written ``NAME`` or ``NAME+INITIAL``: ``NAME`` a registered sampler
(``hardsample.samplers.SAMPLERS``), ``INITIAL`` how round 1 chooses its labels
(the estimators' ``initial=``): ``CRITERION@SPACE`` builds
``RepresentativeSampler(criterion=CRITERION, space=SPACE)``, with CRITERION
``typiclust`` (typicality) or ``centroid`` and SPACE ``latent`` or ``pca``; e.g.
``latent-margin+typiclust@pca``. Without ``+INITIAL``, round 1 is random.
"""

CRITERIA = {"typiclust": "typicality", "centroid": "centroid"}
SPACES = ("latent", "pca")


def initial_for(spec):
    """The estimator's ``initial`` for ``CRITERION@SPACE`` (or ``"random"``)."""
    from hardsample.samplers import RepresentativeSampler

    if spec == "random":
        return "random"
    criterion, _, space = spec.partition("@")
    if criterion not in CRITERIA or space not in SPACES:
        raise SystemExit(f"bad round-1 selection {spec!r}: expected random or CRITERION@SPACE "
                         f"with CRITERION in {sorted(CRITERIA)} and SPACE in {list(SPACES)}")
    return RepresentativeSampler(criterion=CRITERIA[criterion], space=space)


def check_strategies(names):
    """Exit with a clear message unless every ``NAME[+INITIAL]`` can be built."""
    from hardsample.samplers import SAMPLERS

    for name in names:
        sampler, _, initial = name.partition("+")
        if sampler not in SAMPLERS:
            raise SystemExit(f"unknown strategy {sampler!r} in {name!r}; choose among "
                             f"{sorted(SAMPLERS)}")
        if initial:
            initial_for(initial)


def sampler_for(name, step_size=None):
    """The sampler a benchmark runs as ``name``.

    The registered name itself (the sampler's defaults), or, when ``step_size`` is given
    and the sampler has that parameter, a sampler object built with it
    (``SAMPLERS[name](step_size=step_size)``): the step is a parameter of the sampler.
    """
    from hardsample.samplers import SAMPLERS

    if name not in SAMPLERS:
        raise SystemExit(f"unknown strategy {name!r}; choose among {sorted(SAMPLERS)}")
    sampler = SAMPLERS[name]()
    if step_size is None or "step_size" not in sampler.get_params():
        return name
    return sampler.set_params(step_size=step_size)


def specs_from(names, step_size=None):
    """``{name: {"sampler": ..., "initial": ...}}``, the estimator parameters of each
    ``NAME[+INITIAL]`` (checked first)."""
    check_strategies(names)
    specs = {}
    for name in names:
        sampler, _, initial = name.partition("+")
        specs[name] = {"sampler": sampler_for(sampler, step_size),
                       "initial": initial_for(initial or "random")}
    return specs


def strategies_from(base, names, step_size=None):
    """``{name: clone(base).set_params(sampler=..., initial=...)}`` for ``NAME[+INITIAL]``."""
    from sklearn.base import clone

    return {name: clone(base).set_params(**spec)
            for name, spec in specs_from(names, step_size).items()}
