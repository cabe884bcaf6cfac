"""Target codecs: where classes come from, how labels are encoded."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetRegressor

from hardsample._targets import ClassTargets, RegressionTargets


def test_classes_come_from_fit_then_the_net_then_y():
    y = np.array([1, 2, 1])
    codec = ClassTargets()
    codec.check_hidden_labels(y, 3, classes=[1, 2, 3], net_classes=[1, 2, 3, 4])
    assert codec.classes_.tolist() == [1, 2, 3]
    codec.check_hidden_labels(y, 3, net_classes=[1, 2, 3, 4])
    assert codec.classes_.tolist() == [1, 2, 3, 4]
    codec.check_hidden_labels(y, 3)
    assert codec.classes_.tolist() == [1, 2]


def test_tool_needs_classes_from_fit_or_net():
    codec = ClassTargets()
    with pytest.raises(ValueError, match="classes="):
        codec.set_up_for_tool()
    codec.set_up_for_tool(net_classes=["cat", "dog"])
    assert codec.encode("dog") == (1, None)
    assert codec.encode("cow")[0] is None and "not one of classes_" in codec.encode("cow")[1]
    assert codec.encode(np.array([1, 2]))[1].startswith("a class label must be a scalar")
    assert codec.decode([1, 0, 1]).tolist() == ["dog", "cat", "dog"]


def test_labels_outside_given_classes_are_rejected():
    with pytest.raises(ValueError, match="not in classes"):
        ClassTargets().check_hidden_labels([0, 1, 5], 3, classes=[0, 1])


def test_regression_shape_is_the_most_common_of_the_first_batch():
    codec = RegressionTargets()
    codec.set_up_for_tool()
    codec.learn_shape([np.zeros(3), "bad", np.zeros(2), np.zeros(2)])
    assert codec.target_shape == (2,)
    assert codec.encode([1.0, 2.0])[1] is None
    assert "expected (2,)" in codec.encode([1.0, 2.0, 3.0])[1]
    assert "NaN" in codec.encode([np.nan, 1.0])[1]
    np.testing.assert_array_equal(codec.stack([np.ones(2)] * 3), np.ones((3, 2)))


class _BatchNormNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                                          torch.nn.ReLU(), torch.nn.Linear(8, 2))

    def forward(self, X):
        return self.layers(X)


def test_the_output_probe_takes_one_sample_even_through_batch_norm():
    codec = RegressionTargets()
    codec.set_up_for_tool()
    codec.learn_shape([np.zeros(2)])
    net = NeuralNetRegressor(_BatchNormNet, max_epochs=1, verbose=0)
    codec.probe(net, np.zeros((1, 4), dtype=np.float32))  # one sample, as _train sends
    assert codec.net_output_shape_ == (2,)
    assert net.module_.training  # left in training mode, for fit
