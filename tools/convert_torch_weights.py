"""Convert a PyTorch state dict (.pth / .pt, e.g. torchvision's vgg19-dcbb9e9d.pth) into .safetensors (or .npz)
that scratchnet reads without PyTorch: `scratchnet.models.vgg19(weights="vgg19.safetensors")`.

Needs torch (this script only). Keys are kept as they are (torchvision: features.N.weight, classifier.N.weight);
a checkpoint that wraps its state dict under "state_dict" or "model" is unwrapped.
Run: python tools/convert_torch_weights.py vgg19-dcbb9e9d.pth vgg19.safetensors
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import scratchnet as sn  # noqa: E402

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("src", help="PyTorch .pth/.pt file")
p.add_argument("dst", help="output .safetensors or .npz")
args = p.parse_args()
import torch  # noqa: E402  (only this tool needs it)

state = torch.load(args.src, map_location="cpu", weights_only=True)
for key in ("state_dict", "model"):
    if isinstance(state, dict) and key in state and isinstance(state[key], dict):
        state = state[key]
arrays = {k: v.detach().float().numpy() for k, v in state.items() if hasattr(v, "detach")}
sn.save(arrays, args.dst)
print(f"{len(arrays)} tensors, {sum(a.size for a in arrays.values()):,} values -> {args.dst}")
