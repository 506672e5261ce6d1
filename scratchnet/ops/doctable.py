"""The op reference read from the ops' own docstrings: the public surface, each op's Forward/Backward math, and the
Markdown table `python -m scratchnet.ops --table` prints (README's op reference is that table).

The convention every public op's docstring follows (tests/test_public_surface.py keeps it true):

    One line saying what the op is, with PyTorch's argument notes below it.

    Forward:  y = the formula, with shapes where they are not obvious
    Backward: dx = the formula in the upstream gradient gy (one term per input: da, db, ...),
              or "not differentiable (why)" for ops whose result carries no gradient

A key line starts a line of its own; a formula longer than a line continues on the indented lines below it.
Utilities that compute no tensor from tensors (devices, seeds, files, grad modes) are listed in `NOT_OPS` and need a
docstring, not a formula.
"""
import inspect
import re

KEYS = ("Forward", "Backward")
START, END = "<!-- op-table:start -->", "<!-- op-table:end -->"  # where README.md holds the generated table

# Public callables that are not ops: they need a docstring saying what they do, not a forward/backward formula
NOT_OPS = {
    "scratchnet": {"device", "get_default_device", "set_default_device", "manual_seed", "get_array_module",
                   "set_num_threads", "get_num_threads", "is_grad_enabled", "save", "load", "gradcheck",
                   "gradgradcheck", "result_type", "promote_types", "use_kernels"},
    "Tensor": {"shape", "ndim", "dtype", "device", "grad_fn", "is_leaf", "requires_grad_", "retain_grad", "backward",
               "numpy", "item", "tolist", "size", "dim", "numel", "element_size", "is_floating_point", "__len__",
               "__bool__", "__float__", "__int__", "__index__", "__array__"},
}

# Dunders of Tensor that are no part of its documented surface (the class docstring speaks for construction)
_TENSOR_SKIP = {"__init__", "__class__", "__repr__", "__hash__", "__dict__", "__weakref__", "__module__", "__doc__",
                "__slots__", "__init_subclass__", "__subclasshook__", "__class_getitem__", "__annotations__",
                "__firstlineno__", "__static_attributes__"}


def _module_members(module):
    for name in sorted(vars(module)):
        value = getattr(module, name)
        if name.startswith("_") or inspect.isclass(value) or not callable(value):
            continue  # a module is skipped unless it is callable, as `scratchnet.tensor(data)` is
        yield name, value


def _tensor_members():
    from ..tensor import Tensor
    for name in sorted(dir(Tensor)):
        if name in _TENSOR_SKIP or (name.startswith("_") and not (name.startswith("__") and name.endswith("__"))):
            continue
        value = inspect.getattr_static(Tensor, name)
        if (name.startswith("__") and getattr(object, name, None) is value) or \
                not (callable(value) or isinstance(value, (property, staticmethod, classmethod))):
            continue  # inherited from object, or a plain attribute (__array_ufunc__ = None opts out of NumPy's)
        yield name, value


def surface():
    """(owner, name, object) for every public function of scratchnet, scratchnet.nn.functional and (where they
    exist) scratchnet.linalg / fft / special, and every public method, property and operator of Tensor."""
    import scratchnet
    from ..nn import functional
    modules = [("scratchnet", scratchnet), ("scratchnet.nn.functional", functional)]
    for sub in ("linalg", "fft", "special"):
        module = vars(scratchnet).get(sub)
        if inspect.ismodule(module):
            modules.append((f"scratchnet.{sub}", module))
    out = [(owner, name, value) for owner, module in modules for name, value in _module_members(module)]
    return out + [("Tensor", name, value) for name, value in _tensor_members()]


def docstring(value):
    """The docstring a user's help() shows for a function, method or property."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if inspect.ismodule(value):  # a callable module: what calling it does
        value = type(value).__call__
    if isinstance(value, property):
        return inspect.cleandoc(value.__doc__ or (value.fget.__doc__ if value.fget else "") or "")
    return inspect.cleandoc(getattr(value, "__doc__", None) or "")


def sections(doc):
    """{"Forward": text, "Backward": text} read from a docstring's key lines (continuations joined by a space)."""
    found, key = {}, None
    for line in doc.splitlines():
        m = re.match(r"(\w+):\s+(\S.*)$", line)
        if m and m.group(1) in KEYS:
            key = m.group(1)
            found[key] = m.group(2).strip()
        elif key and line[:1].isspace() and line.strip():
            found[key] += " " + line.strip()
        else:
            key = None
    return found


def is_op(owner, name):
    return name not in NOT_OPS.get(owner, ())


def table():
    """The Markdown op reference: one row per op function (aliases on the same row), from the docstrings."""
    rows, seen = [], {}
    for owner, name, value in surface():
        if owner == "Tensor" or not is_op(owner, name):
            continue
        label = {"scratchnet": "", "scratchnet.nn.functional": "F."}.get(owner, owner[len("scratchnet."):] + ".") + name
        if id(value) in seen:
            seen[id(value)][0].append(label)
            continue
        math = sections(docstring(value))
        seen[id(value)] = row = ([label], math.get("Forward", "?"), math.get("Backward", "?"))
        rows.append(row)
    cell = lambda s: s.replace("|", "\\|")  # noqa: E731  (|x| in a formula is not a column break)
    lines = ["| op | forward | backward |", "|---|---|---|"]
    lines += [f"| `{'`, `'.join(labels)}` | {cell(fwd)} | {cell(bwd)} |" for labels, fwd, bwd in rows]
    return "\n".join(lines) + "\n"


def table_in(text):
    """The table between the START and END markers of a document's text (None without the markers)."""
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def write_into(path):
    """Replace the table between the markers in the Markdown file `path` by the current one (atomically)."""
    from ..io import atomic_write
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if table_in(text) is None:
        raise ValueError(f"{path}: no {START} ... {END} markers to put the op table between")
    head, rest = text.split(START, 1)
    new = head + START + "\n" + table() + END + rest.split(END, 1)[1]
    atomic_write(path, lambda f: f.write(new.encode("utf-8")))
