"""Shared fixtures: where the real datasets are, and small synthetic records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _dataset(sub: str) -> Path:
    root = os.environ.get("ECGQA_DATA_DIR")
    if not root:
        pytest.skip("real data not available: set ECGQA_DATA_DIR (e.g. to ../shared/data)")
    path = Path(root) / sub
    if not path.is_dir():
        pytest.skip(f"real data not available: {path} does not exist")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the real datasets (``ECGQA_DATA_DIR``); skips the test when unset."""
    return _dataset("")


@pytest.fixture(scope="session")
def ptbxl_dir() -> Path:
    return _dataset("ptb-xl")


@pytest.fixture(scope="session")
def ludb_dir() -> Path:
    return _dataset("ludb")


@pytest.fixture(scope="session")
def ecgqa_dir() -> Path:
    return _dataset("ecg-qa")


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    return _dataset("mitdb")


@pytest.fixture(scope="session")
def ptbdb_dir() -> Path:
    return _dataset("ptbdb")
