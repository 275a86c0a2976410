"""Fixtures for every test tier.

Shared data lives in :mod:`tests.data`, timing helpers in :mod:`tests.helpers`; the
fixtures of the integration tier (a module's own network and account) in
``tests/integration/conftest.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from tests import data

_PRISTINE = {name: copy.deepcopy(getattr(data, name)) for name in data.SHARED_VALUES}


@pytest.fixture(autouse=True)
def _shared_data_stays_unchanged() -> Iterator[None]:
    """Fail the test that changed a value of :mod:`tests.data` in place (and restore it),
    so that one test's edit cannot leak into the next module that imports the value."""
    yield
    changed = [name for name, value in _PRISTINE.items() if getattr(data, name) != value]
    for name in changed:  # put it back, in the same object the test modules hold
        current, pristine = getattr(data, name), copy.deepcopy(_PRISTINE[name])
        if isinstance(current, dict):
            current.clear()
            current.update(pristine)
        else:
            current[:] = pristine
    assert changed == [], f"this test changed tests.data in place: {changed}"
