"""Fixtures shared by the classifier's tests."""

import pytest

from classifier import features, lookup


@pytest.fixture(params=["compiled", "numpy"])
def helpers(request, monkeypatch):
    """Runs a test with the compiled helpers (``classifier/_speedups.pyx``, built by make)
    and again with the numpy code that stands in for them where they are not built."""
    if request.param == "numpy":
        monkeypatch.setattr(features, "sums_down_the_trie", None)
        monkeypatch.setattr(features, "distinct_by_group", None)
        monkeypatch.setattr(lookup, "find_keys", None)
    elif not features.COMPILED:
        pytest.skip("classifier/_speedups.pyx is not built (make setup builds it)")
    return request.param
