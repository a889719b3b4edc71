"""Shared test set-up.

scikit-learn's ``check_array_api_input`` (numpy namespace) runs only when SciPy's array-API mode
is on, which SciPy reads once at import: set it before anything imports scipy.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
