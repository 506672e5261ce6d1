"""The package's shape: no import cycle between scratchnet's modules, every module importable first in a fresh
interpreter, the bottom layer blind to the classes above it, one name for the array-module lookup, and
`scratchnet.tensor` both the module and the factory."""
import ast
import pathlib
import subprocess
import sys

import scratchnet as sn

ROOT = pathlib.Path(sn.__file__).parent
BOTTOM = ("backend", "rng", "cputune")  # the layer everything else builds on


def _modules():
    """{dotted name: (path, is_package)} for every module of the scratchnet package."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def _top_level_imports(tree):
    """The import statements that run when the module is imported (not those inside a function body)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def _targets(name, package, node, modules):
    """The scratchnet modules an import statement in module `name` loads (`from . import x` names module x when x
    is a module, else the package it comes from)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    if node.level:
        base = name.split(".")[: len(name.split(".")) - (0 if package else 1)]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source not in modules:
        return []
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]


def import_graph():
    """{module: set of scratchnet modules it imports at import time}. A module's own packages are left out: Python
    runs a package's __init__ before any of its modules, by design."""
    modules = _modules()
    graph = {}
    for name, (path, package) in modules.items():
        deps = set()
        for node in _top_level_imports(ast.parse(path.read_text())):
            deps.update(t for t in _targets(name, package, node, modules)
                        if t != name and not name.startswith(t + "."))
        graph[name] = deps
    return graph


def find_cycles(graph):
    """The strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_relative_and_absolute_imports():
    graph = import_graph()
    assert "scratchnet.tensor" in graph["scratchnet.autograd"]
    assert "scratchnet.backend" in graph["scratchnet.rng"]
    assert "scratchnet.ops.math" in graph["scratchnet.ops.methods"]  # `from . import math as M`


def test_no_import_cycle_between_scratchnet_modules():
    cycles = find_cycles(import_graph())
    assert not cycles, f"import cycles: {cycles}"


def test_every_module_imports_first_in_a_fresh_interpreter():
    # one child process; before each module it forgets every scratchnet module, so each is imported first
    names = sorted(n for n in _modules() if n != "scratchnet" and not n.endswith("__main__"))
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    for m in [m for m in sys.modules if m == 'scratchnet' or m.startswith('scratchnet.')]:\n"
            "        del sys.modules[m]\n"
            "    try:\n"
            "        importlib.import_module(name)\n"
            "    except Exception as e:\n"
            "        print(f'{name}: {type(e).__name__}: {e}')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                       env={"PYTHONPATH": ":".join(sys.path), "SCRATCHNET_DEVICE": "cpu"})
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout + r.stderr


def test_the_bottom_layer_imports_nothing_above_it_and_names_no_class():
    """backend, rng and cputune know arrays and devices only: no import of a higher module, and no test of an
    object's class by its name (`type(x).__name__ == "Tensor"`), which would let an upper layer's class in by the
    back door."""
    graph = import_graph()
    for name in BOTTOM:
        path = ROOT / f"{name}.py"
        above = graph[f"scratchnet.{name}"] - {f"scratchnet.{b}" for b in BOTTOM}
        assert not above, f"{name}.py imports {sorted(above)}"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                named = any(isinstance(s, ast.Attribute) and s.attr in ("__name__", "__qualname__") for s in sides)
                literal = any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides)
                assert not (named and literal), f"{name}.py:{node.lineno} compares a class name with a string"


def test_one_name_for_the_array_module_lookup():
    offenders = [f"{p.relative_to(ROOT.parent)}" for p in ROOT.rglob("*.py") if "xp_of" in p.read_text()]
    assert not offenders, f"use backend.get_array_module, not the alias xp_of: {offenders}"
    assert not hasattr(sn.backend, "xp_of")


def test_scratchnet_tensor_is_the_module_and_calling_it_is_the_factory():
    import importlib
    import types
    module = importlib.import_module("scratchnet.tensor")
    assert sn.tensor is module and isinstance(module, types.ModuleType)
    assert module.Tensor is sn.Tensor
    t = sn.tensor([1, 2], dtype="float64", requires_grad=True)
    assert isinstance(t, sn.Tensor) and t.dtype == "float64" and t.requires_grad and t.is_leaf
    from scratchnet import tensor
    assert tensor(3.0).dtype == "float32" and tensor(3).dtype == "int64"


MAX_LINES = 420  # "no module over ~400 lines": one concept per module, readable in a sitting


def test_no_module_is_over_the_line_limit():
    """A module that outgrows the limit holds more than one concept: split it along one (as apps/gan.py's command
    line went to gan_cli.py and grad mode left tensor.py for grad_mode.py), rather than raise the limit."""
    long = {f"{p.relative_to(ROOT.parent)}": n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
