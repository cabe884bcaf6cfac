"""Strategies of the benchmark scripts: registered sampler names, with a latent step."""

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


def strategies_from(base, names, step_size=None):
    """``{name: clone(base).set_params(sampler=sampler_for(name, step_size))}``."""
    from sklearn.base import clone

    return {name: clone(base).set_params(sampler=sampler_for(name, step_size))
            for name in names}
