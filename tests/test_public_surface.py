"""The public surface documents its math: every public function and Tensor method has a docstring, every op's states
its forward and backward formulas (the convention written in scratchnet/ops/doctable.py), autograd Functions are
named apart from Modules, and README's op reference is the table generated from the docstrings."""
import inspect
import pathlib
import subprocess
import sys

import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.autograd import Function
from scratchnet.ops import doctable

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _label(owner, name):
    return f"{owner}.{name}"


def test_the_surface_is_walked():
    """The walk sees the surface a user sees: top-level ops, functional, Tensor methods, properties and operators."""
    found = {_label(o, n) for o, n, _ in doctable.surface()}
    for name in ("scratchnet.add", "scratchnet.cumsum", "scratchnet.nn.functional.conv2d", "Tensor.reshape",
                 "Tensor.__add__", "Tensor.__radd__", "Tensor.T", "Tensor.backward", "Tensor.masked_fill_"):
        assert name in found
    assert "Tensor.__init__" not in found and "scratchnet.Tensor" not in found and "scratchnet.nn" not in found
    assert len(found) > 500


def test_every_public_callable_has_a_docstring():
    missing = [_label(o, n) for o, n, v in doctable.surface() if not doctable.docstring(v)]
    assert not missing, f"{len(missing)} public functions/methods have no docstring: {', '.join(missing)}"


def test_every_op_docstring_states_its_forward_and_backward_math():
    bad = []
    for owner, name, value in doctable.surface():
        if doctable.is_op(owner, name):
            math = doctable.sections(doctable.docstring(value))
            if set(math) != set(doctable.KEYS):
                bad.append(f"{_label(owner, name)} (has {sorted(math) or 'neither'})")
    assert not bad, (f"{len(bad)} public ops lack a 'Forward:' or 'Backward:' line in their docstring "
                     f"(see scratchnet/ops/doctable.py): {', '.join(bad)}")


def test_a_docstring_is_the_one_help_shows():
    x = sn.ones(2, 3)
    for method, function in ((x.reshape, sn.reshape), (x.sum, sn.sum), (x.__radd__, sn.add), (x.view, sn.reshape)):
        doc = inspect.getdoc(method)
        assert doctable.sections(doc) == doctable.sections(inspect.getdoc(function)) != {}
    assert "Forward:" in inspect.getdoc(type(x).T) and "Forward:" in inspect.getdoc(sn.nn.functional.elu)


def test_the_not_ops_list_names_only_real_members():
    found = {(o, n) for o, n, _ in doctable.surface()}
    stale = [f"{o}.{n}" for o, names in doctable.NOT_OPS.items() for n in names if (o, n) not in found]
    assert not stale, f"doctable.NOT_OPS lists names that are not public members: {stale}"


def test_sections_reads_key_lines_and_their_continuations():
    doc = inspect.cleandoc("""what it is

        Forward:  y = a
                  + b
        Backward: da = gy
        Notes: Forward: inside prose is no key line
        """)
    assert doctable.sections(doc) == {"Forward": "y = a + b", "Backward": "da = gy"}
    assert doctable.sections("y = a + b;  da = gy") == {}


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_function_classes_are_named_apart_from_modules():
    modules = {n for n in dir(nn) if inspect.isclass(getattr(nn, n)) and issubclass(getattr(nn, n), nn.Module)}
    clashes = sorted({f"{f.__module__}.{f.__name__}" for f in _all_subclasses(Function) if f.__name__ in modules
                      and f.__module__.startswith("scratchnet.")})
    assert not clashes, f"autograd Functions named like an nn Module (name them ...Fn): {clashes}"


def test_op_table_cli_prints_a_row_per_op_from_the_docstrings():
    out = subprocess.run([sys.executable, "-m", "scratchnet.ops", "--table"], capture_output=True, text=True,
                         check=True).stdout
    lines = out.splitlines()
    assert lines[0] == "| op | forward | backward |"
    row = next(line for line in lines if line.startswith("| `add` "))
    math = doctable.sections(inspect.getdoc(sn.add))
    assert row == f"| `add` | {math['Forward']} | {math['Backward']} |"
    assert any(line.startswith("| `clamp`, `clip` ") for line in lines)  # aliases share their op's row
    assert "\\|x\\|" in next(line for line in lines if line.startswith("| `abs`"))  # a | in a formula is escaped
    assert "?" not in {cell.strip() for line in lines[2:] for cell in line.strip("| ").split(" | ")[1:]}


def test_readme_op_reference_is_the_generated_table():
    copy = doctable.table_in(README.read_text(encoding="utf-8"))
    assert copy is not None, f"README.md lacks the {doctable.START} ... {doctable.END} markers"
    assert copy == doctable.table(), "README's op table is out of date: run `make op-table` to regenerate it"


def test_readme_writer_replaces_only_the_table(tmp_path):
    from scratchnet.ops.__main__ import main
    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{doctable.START}\nstale | rows\n{doctable.END}\noutro\n", encoding="utf-8")
    assert main(["--readme", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith(f"intro\n{doctable.START}\n| op |") and text.endswith(f"|\n{doctable.END}\noutro\n")
    assert doctable.table_in(text) == doctable.table() and "stale" not in text
    doc.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["--readme", str(doc)])
    assert e.value.code == 1 and doc.read_text(encoding="utf-8") == "no markers\n"


@pytest.mark.parametrize("bad", [["--nope"], []])
def test_op_table_cli_refuses_what_it_does_not_know(bad, capsys):
    from scratchnet.ops.__main__ import main
    if bad:
        with pytest.raises(SystemExit):
            main(bad)
    else:
        assert main(bad) == 2
