"""Experiments train models on the closed side: every test in this folder runs with the network blocked."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkBlockedError


def test_experiment_tests_run_with_the_network_blocked() -> None:
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("huggingface.co", 443)
