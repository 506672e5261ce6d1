"""Transfer learning on Fashion-MNIST: learn five classes from a handful of images, helped by features learned on
the other five.

Pretrain the reference CNN on classes 0-4 (T-shirt, trouser, pullover, dress, coat), then learn classes 5-9
(sandal, shirt, sneaker, bag, ankle boot) from k labelled images per class in three ways:
  frozen   - the pretrained convolutional layers stay fixed; only the dense layers (new output layer) learn;
  finetune - start from the pretrained weights (new output layer) and train everything;
  scratch  - a freshly initialised network trained on the same k images.
Accuracy is measured on all test images of classes 5-9.
"""
import os

import numpy

from .. import backend, cli_args, nn, optim
from ..rng import manual_seed
from ..io import atomic_write, atomic_write_json
from ..data import DataLoader, FashionMNIST
from ..models import reference_cnn
from . import plots
from .classify import evaluate
from .common import fit

MODES = ("frozen", "finetune", "scratch")


class _Subset:
    """Some images of a dataset with their labels remapped to 0..len(classes)-1."""

    def __init__(self, ds, index, classes):
        remap = {c: i for i, c in enumerate(classes)}
        self.images = ds.images[index]
        self.targets = numpy.array([remap[int(t)] for t in ds.targets[index]], dtype=numpy.int64)
        self.classes = [ds.classes[c] for c in classes]
        self.transform = None

    def __len__(self):
        return len(self.targets)


def _fit(model, subset, epochs, lr, batch_size, seed, device):
    """Adam on the parameters that learn (a frozen layer's are left out), run by the apps' one training loop."""
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    fit(model, opt, DataLoader(subset, batch_size, shuffle=True, seed=seed, device=device), epochs)
    return model


def transfer(data=None, shots=(20, 50, 100), pretrain_epochs=2, finetune_epochs=30, seeds=(0, 1, 2), lr=1e-3,
             device=None, out="out/transfer", progress=True, pretrain_classes=(0, 1, 2, 3, 4)):
    """Run the experiment; returns {shots: {mode: mean test accuracy over seeds}} and writes results.json,
    results.md (the table) and transfer.png (a bar chart) into `out`. The other five classes are the new task."""
    device = backend.device(device)
    train_ds, test_ds = FashionMNIST(root=data, train=True), FashionMNIST(root=data, train=False)
    old = sorted(pretrain_classes)
    new = [c for c in range(10) if c not in old]
    if len(old) != 5 or len(new) != 5:
        raise ValueError(f"transfer: pretrain_classes must be 5 distinct classes of 0..9, got {pretrain_classes}")
    old_train = _Subset(train_ds, numpy.isin(train_ds.targets, old), old)
    new_test = _Subset(test_ds, numpy.isin(test_ds.targets, new), new)
    manual_seed(seeds[0])
    base = _fit(reference_cnn(5).to(device), old_train, pretrain_epochs, lr, 64, seeds[0], device)
    base_acc = evaluate(base, _Subset(test_ds, numpy.isin(test_ds.targets, old), old), device=device)[0]
    if progress:
        print(f"pretrained on classes {old} ({len(old_train)} images from {train_ds.source}): "
              f"test accuracy {base_acc:.2%}")
    results = {}
    for k in shots:
        results[k] = {m: [] for m in MODES}
        for seed in seeds:
            rng = numpy.random.default_rng(seed)
            index = numpy.concatenate([rng.choice(numpy.flatnonzero(train_ds.targets == c), k, replace=False)
                                       for c in new])
            few = _Subset(train_ds, index, new)
            for mode in MODES:
                manual_seed(seed)
                model = reference_cnn(5).to(device)
                if mode != "scratch":
                    model.load_state_dict(base.state_dict())
                    model[-1] = nn.Linear(128, 5).to(device)  # a new output layer for the new classes
                if mode == "frozen":
                    for layer in model:
                        if isinstance(layer, nn.Conv2d):
                            layer.requires_grad_(False)
                _fit(model, few, finetune_epochs, lr, 32, seed, device)
                results[k][mode].append(evaluate(model, new_test, device=device)[0])
            if progress:
                print(f"{k} images/class, seed {seed}: " +
                      ", ".join(f"{m} {results[k][m][-1]:.2%}" for m in MODES))
    summary = {k: {m: float(numpy.mean(v)) for m, v in r.items()} for k, r in results.items()}
    os.makedirs(out, exist_ok=True)
    table = ["| images per class | " + " | ".join(MODES) + " |", "|---|" + "---|" * len(MODES)]
    table += [f"| {k} | " + " | ".join(f"{summary[k][m]:.1%}" for m in MODES) + " |" for k in shots]
    atomic_write(os.path.join(out, "results.md"), lambda f: f.write(("\n".join(table) + "\n").encode()))
    atomic_write_json(os.path.join(out, "results.json"),
                      {"pretrain_test_accuracy": base_acc, "seeds": list(seeds), "source": train_ds.source,
                       "per_seed": {str(k): v for k, v in results.items()},
                       "mean": {str(k): v for k, v in summary.items()}}, indent=1)
    plots.bar_chart(os.path.join(out, "transfer.png"), "test accuracy on classes 5-9 (mean over seeds)",
                    [f"{k} images/class" for k in shots], {m: [100 * summary[k][m] for k in shots] for m in MODES},
                    ylabel="test accuracy (%)", log=False, fmt="{:.1f}")
    if progress:
        print("\n".join(table))
    return summary


# ---- the command line: `scratchnet transfer` ----

def add_arguments(p):
    p.add_argument("--shots", type=cli_args.int_range(1, 6000), nargs="+", default=[20, 50, 100],
                   help="labelled images per new class, one experiment each")
    p.add_argument("--pretrain-epochs", type=cli_args.positive_int, default=2, help="epochs on the old classes")
    p.add_argument("--finetune-epochs", type=cli_args.positive_int, default=30, help="epochs on the few new images")
    p.add_argument("--seeds", type=cli_args.count, nargs="+", default=[0, 1, 2], help="runs averaged per table cell")
    p.add_argument("--pretrain-classes", type=cli_args.int_range(0, 9), nargs=5, default=[0, 1, 2, 3, 4],
                   help="the 5 classes learned first; the other 5 are the new task")
    cli_args.add_common(p, "out/transfer", data=True, seed=False)


def check(args):
    if len(set(args.pretrain_classes)) != 5:
        raise cli_args.UsageError(f"argument --pretrain-classes: expected 5 different classes, got "
                                  f"{args.pretrain_classes}")


def run(args):
    transfer(data=args.data, shots=args.shots, pretrain_epochs=args.pretrain_epochs,
             finetune_epochs=args.finetune_epochs, seeds=args.seeds, device=args.device, out=args.out,
             pretrain_classes=args.pretrain_classes)
