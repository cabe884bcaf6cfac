"""importorskip_unless_ci: a missing test extra skips locally and fails under CI=true."""

import numpy
import pytest

from .conftest import importorskip_unless_ci

MISSING = "hardsample_no_such_test_extra"


def test_a_missing_module_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="faiss-cpu"):
        importorskip_unless_ci(MISSING, reason="faiss-cpu is not installed")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        importorskip_unless_ci(MISSING)


@pytest.mark.parametrize("value", ["true", "True", " TRUE "])
def test_a_missing_module_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception,
                       match=rf"CI=true but '{MISSING}' cannot be imported.*\[test\].*needed"):
        importorskip_unless_ci(MISSING, reason="needed")


@pytest.mark.parametrize("ci", [None, "true"])
def test_an_installed_module_is_returned(monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert importorskip_unless_ci("numpy") is numpy
