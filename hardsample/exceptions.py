"""Warnings of the round loop that a caller may want to filter or catch."""


class LabelsPending(UserWarning):
    """A round asked for labels that are not available yet.

    Issued by ``fit`` and ``partial_fit`` when they stop at a batch that waits for
    labels: ``-1`` (classes) or ``NaN`` (targets) in ``y`` for requested samples,
    or a labeling tool that answered "not yet"
    (:class:`~hardsample.oracles.NotLabeledYet`, :data:`~hardsample.oracles.PENDING`).
    The estimator's ``pending_`` holds the requested pool indices; write their
    labels into ``y`` (or let the tool answer) and call ``partial_fit`` again.

    Examples
    --------
    >>> import warnings
    >>> from hardsample import LabelsPending
    >>> issubclass(LabelsPending, UserWarning)
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", LabelsPending)  # e.g. in a labeling script
    """
