"""RandomSampler: the baseline."""

from ._base import BaseSampler, Proposal, draw_available


class RandomSampler(BaseSampler):
    """Label unlabeled pool samples drawn uniformly at random (the paper's baseline).

    Examples
    --------
    >>> from hardsample.samplers import RandomSampler
    >>> RandomSampler()
    RandomSampler()
    """

    needs_net = False

    def _propose(self, state, n, random_state):
        return Proposal(indices=draw_available(state, n, random_state))
