"""Fixtures for the ipvsadm language tests."""

from __future__ import annotations

import pytest

from piranha.table import model

from .helpers import new_table, reference_table


@pytest.fixture
def table() -> model.VirtualTable:
    return new_table()


@pytest.fixture(name="reference_table")
def _reference_table(table: model.VirtualTable) -> model.VirtualTable:
    """The table of the reference's §7.3–7.6 examples."""
    return reference_table(table)
