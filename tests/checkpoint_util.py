"""Test helper: two checkpoints' tensors compared bit for bit (what "resume continues identically" means)."""
from scratchnet import io


def assert_same_tensors(ca, cb, parts=("model", "optimizer")):
    """Every array under each part of two loaded checkpoints has the same keys and the same bytes."""
    for part in parts:
        fa, fb = {}, {}
        io._flatten(ca[part], fa, "")
        io._flatten(cb[part], fb, "")
        assert fa.keys() == fb.keys(), part
        for k in fa:
            assert fa[k].tobytes() == fb[k].tobytes(), f"{part}/{k}"
