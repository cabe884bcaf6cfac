"""Target codecs: what a label is, for the classifier and for the regressor.

A codec knows the classes (classifier) or the target shape (regressor), checks the
hidden labels or sets itself up for a labeling tool, encodes each label an oracle
returns into the form the net trains on, and shapes targets for the net. It is the
only difference between the two meta-estimators.
"""

import inspect
import numbers

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d


class ClassTargets:
    """Class labels, encoded as positions in the sorted ``classes_``.

    Where the classes come from, first found wins: ``classes=`` of ``fit``, the
    skorch net's own ``classes``, else the hidden labels ``y`` (the one place where
    labels of samples that are never queried are read).

    ``-1`` in ``y`` means "not labeled yet" (scikit-learn's semi-supervised
    convention, as in ``SelfTrainingClassifier``), so -1 is never a class.
    """

    target_dtype = np.int64
    #: The entry of ``y`` that marks a sample not labeled yet.
    missing_label = -1

    def __init__(self):
        self.classes_ = None

    # ---------------------------------------------------------------- set up
    def check_hidden_labels(self, y, n_pool, classes=None, net_classes=None, markers=True):
        """Validate the pool's hidden labels; set ``classes_``; return ``y`` as 1-D.

        With ``markers``, entries equal to -1 are "not labeled yet": the classes come
        from the labeled entries (or ``classes=``), and -1 may not be a class.
        """
        y = self._as_1d(y, n_pool)
        unlabeled = self.unlabeled_mask(y) if markers else np.zeros(len(y), dtype=bool)
        labeled = y[~unlabeled]
        labels = _unique_labels(labeled, "y")  # before sklearn's checks, which sort y too
        if len(labeled):
            check_classification_targets(labeled)
        given = classes if classes is not None else net_classes
        if given is None and unlabeled.any() and len(labels) < 2:
            raise ValueError(
                f"y labels {len(labeled)} of {len(y)} samples (-1 marks a sample not labeled "
                f"yet) with the classes {labels.tolist()}: the classes cannot be read from y. "
                "Pass classes= to fit or partial_fit (or classes= to the skorch net)."
            )
        self.classes_ = self._check_classes(labels if given is None else given)
        if markers and self._has_marker(self.classes_):
            raise ValueError(
                "-1 marks a sample not labeled yet in y (scikit-learn's semi-supervised "
                "convention), so it cannot be a class: recode the classes, or pass "
                "oracle=DatasetOracle(y) to take every entry of y as a label."
            )
        self._check_known(labels)
        return y

    def check_more_labels(self, y, n_pool):
        """Validate ``y`` handed in again (a later sitting): the classes stay fixed."""
        y = self._as_1d(y, n_pool)
        self._check_known(_unique_labels(y[~self.unlabeled_mask(y)], "y"))
        return y

    def unlabeled_mask(self, y):
        """Where ``y`` (1-D, as checked) holds -1: samples not labeled yet."""
        if y.dtype == object:
            return np.fromiter((self._has_marker(np.asarray([v])) for v in y), bool, len(y))
        if y.dtype.kind in "iuf":
            return y == self.missing_label
        return np.zeros(len(y), dtype=bool)

    @staticmethod
    def _has_marker(values):
        return any(not isinstance(v, (bool, np.bool_, str, bytes)) and isinstance(v, numbers.Real)
                   and v == -1 for v in values.tolist())

    @staticmethod
    def _as_1d(y, n_pool):
        y = column_or_1d(np.asarray(y, dtype=object) if _is_string_like(y) else y, warn=True)
        if len(y) != n_pool:
            raise ValueError(
                f"X and y have different lengths: {n_pool} samples but {len(y)} labels."
            )
        return y

    def _check_known(self, labels):
        unknown = labels[~np.isin(labels, self.classes_)]
        if len(unknown):
            raise ValueError(f"y holds labels not in classes: {unknown[:5].tolist()}.")

    def set_up_for_tool(self, classes=None, net_classes=None):
        """Take the classes from ``classes=`` or the net when labels come from a tool."""
        given = classes if classes is not None else net_classes
        if given is None:
            raise ValueError(
                "With a labeling tool as oracle, the classifier needs the class labels to size "
                "the net's output: pass classes= to fit, or classes= to the skorch net."
            )
        self.classes_ = self._check_classes(given)

    @staticmethod
    def _check_classes(classes):
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError(
                f"classes must be a 1-D array of labels, got shape {classes.shape}.")
        classes = _unique_labels(classes, "classes")
        if len(classes) < 2:
            raise ValueError(
                "LatentHardMiningClassifier needs samples of at least 2 classes, but the data "
                f"contains only one class: {classes.tolist()}."
            )
        return classes

    # ---------------------------------------------------------------- labels
    @property
    def target_shape(self):
        return ()

    def learn_shape(self, labels):
        """Nothing to learn: a class label is a scalar."""

    def encode(self, label):
        """``(position in classes_, None)``, or ``(None, why the label is unusable)``."""
        label = np.asarray(label)
        if label.ndim != 0 and label.size != 1:
            return None, f"a class label must be a scalar, got shape {label.shape}"
        label = label.reshape(()).item() if label.ndim else label.item()
        position = np.searchsorted(self.classes_, label) if _comparable(self.classes_, label) \
            else -1
        if not (0 <= position < len(self.classes_)) or self.classes_[position] != label:
            return None, f"label {label!r} is not one of classes_ {self.classes_.tolist()[:10]}"
        return int(position), None

    def decode(self, targets):
        """Class labels of encoded targets."""
        return self.classes_[np.asarray(targets, dtype=np.int64)]

    def stack(self, targets):
        """Encoded targets as one array."""
        return np.asarray(targets, dtype=np.int64).reshape(len(targets))

    # ------------------------------------------------------------------ net
    def module_overrides(self, net):
        """``module__n_classes`` when the module takes it and the net does not set it."""
        if _takes(net.module, "n_classes") and "module__n_classes" not in net.get_params():
            return {"module__n_classes": len(self.classes_)}
        return {}

    def probe(self, net, X_one):
        """Nothing to probe before training a classifier."""

    def check_output(self, net, X_one):
        n_outputs = net.predict_proba(X_one).shape[1]
        if n_outputs != len(self.classes_):
            raise ValueError(
                f"The net outputs {n_outputs} scores per sample but there are "
                f"{len(self.classes_)} classes; size its last layer to the classes "
                "(e.g. module__n_classes)."
            )

    def for_net(self, y):
        return y


class RegressionTargets:
    """Numeric targets of any fixed shape (a scalar, a vector, a stress map).

    A target that is NaN throughout means "not labeled yet" in ``y``.
    """

    target_dtype = np.float32
    #: The entry of ``y`` that marks a sample not labeled yet.
    missing_label = np.nan

    def __init__(self):
        self.target_shape_ = None
        self.net_output_shape_ = None

    def check_hidden_labels(self, y, n_pool, classes=None, net_classes=None, markers=True):
        """Validate the targets; with ``markers``, all-NaN targets mean not labeled yet."""
        y = self._checked(y, n_pool, markers)
        self.target_shape_ = tuple(y.shape[1:])
        return y

    def check_more_labels(self, y, n_pool):
        """Validate ``y`` handed in again (a later sitting): the target shape stays fixed."""
        y = self._checked(y, n_pool, markers=True)
        if tuple(y.shape[1:]) != self.target_shape:
            raise ValueError(f"y has targets of shape {y.shape[1:]}, but the run's targets "
                             f"have shape {self.target_shape}.")
        return y

    def unlabeled_mask(self, y):
        """Samples whose target is NaN throughout: not labeled yet."""
        if y.size == 0:
            return np.zeros(len(y), dtype=bool)
        return np.isnan(y.reshape(len(y), -1)).all(axis=1)

    @staticmethod
    def _checked(y, n_pool, markers):
        y = check_array(y, dtype=np.float32, ensure_2d=False, allow_nd=True,
                        ensure_all_finite="allow-nan" if markers else True,
                        ensure_min_samples=0, input_name="y")
        if y.ndim == 0 or len(y) != n_pool:
            raise ValueError(
                f"X and y have different lengths: {n_pool} samples but "
                f"{0 if y.ndim == 0 else len(y)} targets."
            )
        if markers and y.size:
            nan = np.isnan(y.reshape(len(y), -1))
            partly = np.flatnonzero(nan.any(axis=1) & ~nan.all(axis=1))
            if len(partly):
                raise ValueError(
                    f"y holds targets that are partly NaN (sample {int(partly[0])}): NaN marks "
                    "a sample not labeled yet, and must fill its whole target."
                )
        return y

    def set_up_for_tool(self, classes=None, net_classes=None):
        """The target shape is learned from the tool's first answers."""
        self.target_shape_ = None

    @property
    def target_shape(self):
        return self.target_shape_ or ()

    def learn_shape(self, labels):
        """With a labeling tool, take the target shape from the first answered batch.

        The most common shape among the batch's numeric labels wins (the first seen on
        a tie), so that one malformed label, wherever it falls in the batch, cannot set
        the shape that every later label is checked against.
        """
        if self.target_shape_ is not None:
            return
        counts = {}
        for label in labels:
            try:
                shape = np.asarray(label, dtype=np.float32).shape
            except (TypeError, ValueError):
                continue
            counts[shape] = counts.get(shape, 0) + 1
        if counts:
            self.target_shape_ = max(counts, key=counts.get)  # dicts keep first-seen order

    def encode(self, label):
        try:
            target = np.asarray(label, dtype=np.float32)
        except (TypeError, ValueError):
            return None, f"target {label!r} is not numeric"
        if not np.isfinite(target).all():
            return None, "target holds NaN or infinite values"
        if self.target_shape_ is None:
            self.target_shape_ = tuple(target.shape)
        if tuple(target.shape) != self.target_shape_:
            return None, f"target of shape {target.shape}, expected {self.target_shape_}"
        return target, None

    def decode(self, targets):
        return self.stack(targets)

    def stack(self, targets):
        return np.asarray(targets, dtype=np.float32).reshape((len(targets), *self.target_shape))

    def module_overrides(self, net):
        if _takes(net.module, "n_outputs") and "module__n_outputs" not in net.get_params():
            return {"module__n_outputs": int(np.prod(self.target_shape))}
        return {}

    def probe(self, net, X_one):
        """Learn the net's output shape, to hand it targets in that shape."""
        net.initialize()
        # In eval mode: a batch norm layer in training mode refuses a single sample.
        net.module_.eval()
        try:
            with torch.no_grad():
                output = net.infer(torch.as_tensor(X_one, device=net.device))
        finally:
            net.module_.train()
        self.net_output_shape_ = tuple(output.shape[1:])
        if int(np.prod(self.net_output_shape_)) != int(np.prod(self.target_shape)):
            raise ValueError(
                f"The net outputs {self.net_output_shape_} per sample but the targets have "
                f"shape {self.target_shape}; size its output to the targets "
                "(e.g. module__n_outputs)."
            )

    def check_output(self, net, X_one):
        """Checked by :meth:`probe` before training."""

    def for_net(self, y):
        # skorch regressors want targets shaped like the net's output (a column for
        # scalar targets).
        shape = self.net_output_shape_ or (int(np.prod(y.shape[1:])) or 1,)
        return y.reshape((len(y), *shape))


def _takes(module, name):
    return inspect.isclass(module) and name in inspect.signature(module).parameters


def _unique_labels(labels, name):
    """Sorted distinct labels; a clear TypeError when they cannot be ordered."""
    try:
        return np.unique(labels)
    except TypeError as exc:  # e.g. str and int mixed in an object array
        kinds = sorted({type(v).__name__ for v in np.asarray(labels, dtype=object).ravel()})
        raise TypeError(
            f"{name} mixes labels of types {kinds} that cannot be sorted; use labels of one "
            "type (e.g. all str or all int)."
        ) from exc


def _is_string_like(y):
    return isinstance(y, list) and any(isinstance(v, str) for v in y)


def _comparable(classes, label):
    try:
        np.searchsorted(classes, label)
        return True
    except TypeError:
        return False
