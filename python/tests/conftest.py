"""Shared fixtures: the backends to test (the CPU always; the GPU when an adapter works, and
required when HOUNSFIELD_REQUIRE_GPU=1, as in CI)."""
import os

import numpy as np
import pytest

import hounsfield


def _gpu_available():
    try:
        hounsfield.gpu_adapter()
        return True
    except hounsfield.GpuError as e:
        if os.environ.get("HOUNSFIELD_REQUIRE_GPU") == "1":
            raise RuntimeError(f"HOUNSFIELD_REQUIRE_GPU=1 but no GPU: {e}")
        print(f"NOTICE: no GPU ({e}); GPU tests are skipped")
        return False


GPU = _gpu_available()
BACKENDS = ["cpu", "gpu"] if GPU else ["cpu"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
