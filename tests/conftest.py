import os
import warnings

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_JET = os.path.join(REPO, "..", "shared", "models", "qkeras_jet_3layer")


@pytest.fixture
def jet_files():
    arch = os.path.join(SHARED_JET, "qkeras_3layer.json")
    weights = os.path.join(SHARED_JET, "qkeras_3layer_weights.h5")
    if not os.path.isfile(arch):
        pytest.skip("../shared/models/qkeras_jet_3layer not present")
    return arch, weights
