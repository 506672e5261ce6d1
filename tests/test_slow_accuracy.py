"""Accuracy on the real, full Fashion-MNIST (Debian's dataset-fashion-mnist): slow, run by CI with `-m slow`.

Recipe (issue 4): reference CNN, inputs in [0, 1], batch 64, Adam 1e-3 — PyTorch reaches 86.4% / 88.0% / 88.3%
after 1 / 2 / 3 epochs; we require >= 85.5% after 1 and >= 88% after 3.
"""
import os

import pytest

from scratchnet.apps import classify, transfer
from scratchnet.data import datasets as D

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_data():
    if not os.path.isdir(D.FASHION.debian_dir):
        if os.environ.get("SCRATCHNET_REQUIRE_DEBIAN_DATA"):
            pytest.fail("dataset-fashion-mnist is not installed, but CI must run the accuracy tests")
        pytest.skip("needs the full dataset: apt-get install dataset-fashion-mnist")
    return D.FASHION.debian_dir


def test_reference_cnn_accuracy(full_data, tmp_path):
    history = classify.train("reference", full_data, epochs=3, out=str(tmp_path), progress=False)
    accs = [h["test_acc"] for h in history]
    print("reference CNN test accuracy per epoch:", accs, "seconds:", [h["seconds"] for h in history])
    assert accs[0] >= 0.855 and accs[2] >= 0.88


def test_transfer_frozen_beats_scratch_at_50_shots(full_data, tmp_path):
    # Measured here (3 seeds): frozen 93.1%, fine-tune 92.9%, scratch 91.5%: frozen wins on every seed by 1.1-2.4
    # points. The new classes (sandal, shirt, sneaker, bag, boot) are easy, so scratch is a strong baseline.
    summary = transfer.transfer(full_data, shots=(50,), out=str(tmp_path), progress=False)
    print("transfer, 50 images/class:", summary)
    assert summary[50]["frozen"] >= summary[50]["scratch"] + 0.01
