"""The learning path (docs/learn): every lesson runs, its assertions hold, and the runner reports a failure with
the lesson's file, block and line."""
import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LEARN = ROOT / "docs" / "learn"


def _load_runner():
    spec = importlib.util.spec_from_file_location("learn_runner", LEARN / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()
LESSONS = runner.lessons(LEARN)


def test_the_path_has_its_ten_lessons_in_order():
    numbers = [int(p.name[:2]) for p in LESSONS]
    assert numbers == list(range(1, len(LESSONS) + 1)) and len(LESSONS) >= 10


@pytest.mark.parametrize("kernels", ["reference", "fast"])
@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs(lesson, kernels):
    """Each lesson on the reference kernels (the path a reader steps through) and on the fast ones."""
    namespace = runner.run_lesson(lesson, quiet=True, kernels=kernels)
    assert namespace["__file__"] == str(lesson)


def test_lessons_run_on_the_kernels_asked_for(tmp_path):
    import scratchnet
    path = tmp_path / "01-mode.md"
    path.write_text("```python\nimport scratchnet\nmode = scratchnet.kernel_mode.mode()\n```\n", encoding="utf-8")
    before = scratchnet.kernel_mode.mode()
    assert runner.run_lesson(path)["mode"] == "reference"
    assert runner.run_lesson(path, kernels="fast")["mode"] == "fast"
    assert scratchnet.kernel_mode.mode() == before                   # the switch is scoped to the lesson


def test_every_lesson_is_indexed_and_the_readme_points_to_the_path():
    index = (LEARN / "README.md").read_text(encoding="utf-8")
    for lesson in LESSONS:
        assert f"({lesson.name})" in index, f"docs/learn/README.md does not link {lesson.name}"
    assert "docs/learn" in (ROOT / "README.md").read_text(encoding="utf-8")


LESSON = """# A lesson

```python
x = 2
```

Some prose, then a block that is shown, not run:

```text
this is not python (
```

```python
y = x + 1
assert y == 4, "y is 3"
```
"""


def test_a_failure_names_the_file_the_block_and_the_line(tmp_path):
    path = tmp_path / "01-broken.md"
    path.write_text(LESSON, encoding="utf-8")
    with pytest.raises(runner.LessonError) as info:
        runner.run_lesson(path, quiet=True)
    message = str(info.value)
    line = LESSON.splitlines().index('assert y == 4, "y is 3"') + 1
    assert str(path) in message and "block 2" in message and f"(line {line})" in message
    assert "AssertionError: y is 3" in message
    # the traceback points into the Markdown file, at the same line
    assert re.search(rf'File "{re.escape(str(path))}", line {line}', message)


def test_blocks_share_one_namespace_and_only_python_blocks_run(tmp_path):
    path = tmp_path / "01-ok.md"
    path.write_text(LESSON.replace("y == 4", "y == 3"), encoding="utf-8")
    assert runner.run_lesson(path, quiet=True)["y"] == 3


def test_a_lesson_with_an_unclosed_fence_or_no_code_is_refused(tmp_path):
    unclosed = tmp_path / "01-unclosed.md"
    unclosed.write_text("text\n```python\nx = 1\n", encoding="utf-8")
    with pytest.raises(runner.LessonError, match=r"01-unclosed.md: unclosed ``` fence opened at line 2"):
        runner.run_lesson(unclosed)
    empty = tmp_path / "02-empty.md"
    empty.write_text("# only prose\n", encoding="utf-8")
    with pytest.raises(runner.LessonError, match=r"02-empty.md: no ```python block to run"):
        runner.run_lesson(empty)


def test_main_exit_status(tmp_path, capsys):
    good, bad = tmp_path / "01-good.md", tmp_path / "02-bad.md"
    good.write_text("```python\nassert 1 + 1 == 2\n```\n", encoding="utf-8")
    bad.write_text("```python\nassert 1 + 1 == 3\n```\n", encoding="utf-8")
    assert runner.main([str(good), "--quiet"]) == 0
    assert runner.main([str(tmp_path), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "1 of 2 lessons passed (reference kernels)" in out and "FAIL" in err and "02-bad.md: block 1 (line 2)" in err
