"""Closed-side stage: every test here runs with the network blocked."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _closed_network(no_network: None) -> None:
    """The closed network has no connections at all; any attempt fails the test."""
