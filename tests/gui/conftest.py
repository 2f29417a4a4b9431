"""Fixtures for tests/gui."""

from __future__ import annotations

import warnings

import pytest

# Starlette's TestClient would like httpx2; the warning says nothing about our code.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from .support import Site, make_site  # noqa: E402 - after the filter, which must see the import


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/gui/" in str(item.fspath):
            item.add_marker(
                pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
            )


@pytest.fixture
def site(tmp_path) -> Site:
    """A tool with no lvs.cf yet (the first ACCEPT creates it)."""
    return make_site(tmp_path / "site")


@pytest.fixture(autouse=True, scope="session")
def _cheap_argon2():
    """argon2 costs ~0.3 s per login on purpose; tests log in hundreds of times, so they use
    the same algorithm with the smallest parameters (live servers started by tests keep the real ones)."""
    import argon2

    from piranha.gui import passwords

    real = passwords._HASHER
    passwords._HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    yield
    passwords._HASHER = real
