"""Run the learning path: execute every ```python block of each lesson (docs/learn/NN-name.md), in order, in one
namespace per lesson, and report the first failure with its file, block number and line.

    python docs/learn/run.py                  # every lesson in docs/learn, on the reference kernels
    python docs/learn/run.py docs/learn/04-conv-im2col.md --quiet
    python docs/learn/run.py --kernels fast   # the same checks on the fast kernels

A lesson is literate Markdown: prose and derivations, then code that checks them with `assert`. Nothing but
```python blocks runs (```text or ``` blocks are shown, not run). Tracebacks point at the Markdown file's own line
numbers, so an editor jumps to the failing line. No Jupyter needed; tests/test_learn.py runs every lesson in CI.
"""
import argparse
import contextlib
import io
import pathlib
import re
import sys
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")


class LessonError(AssertionError):
    """A lesson's code block failed; the message names the file, the block (1-based) and the Markdown line."""


def code_blocks(text):
    """[(line, source)] of the ```python blocks of a Markdown text; `line` is the 1-based line of the block's first
    code line. An unclosed fence is an error (a block silently dropped would be a check silently skipped)."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        start, i = i + 1, i + 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            i += 1
        if i == len(lines):
            raise ValueError(f"unclosed {fence} fence opened at line {start}")
        if lang in ("python", "py"):
            body = [ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[start:i]]
            blocks.append((start + 1, "\n".join(body) + "\n"))
        i += 1
    return blocks


def lessons(folder=HERE):
    """The lesson files of a folder, in path order: names that start with two digits and a dash."""
    return sorted(p for p in pathlib.Path(folder).glob("[0-9][0-9]-*.md"))


def run_lesson(path, quiet=False, kernels="reference"):
    """Execute one lesson's blocks in order in one fresh namespace; returns the namespace. Raises LessonError
    naming the file, block and line of the first failure. By default the lesson runs on scratchnet's reference
    kernels (`scratchnet.use_kernels("reference")`: the short, differentiable twins of the fast ones), so what it
    checks is the code a reader steps through; kernels="fast" runs the same checks on the fast kernels."""
    import scratchnet
    path = pathlib.Path(path)
    try:
        blocks = code_blocks(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise LessonError(f"{path}: {e}") from None
    if not blocks:
        raise LessonError(f"{path}: no ```python block to run")
    namespace = {"__name__": f"lesson_{path.stem.replace('-', '_')}", "__file__": str(path)}
    out = io.StringIO()
    with scratchnet.use_kernels(kernels), (contextlib.redirect_stdout(out) if quiet else contextlib.nullcontext()):
        for k, (line, source) in enumerate(blocks, 1):
            # padding with blank lines makes the code's line numbers the Markdown file's, in tracebacks too
            code = compile("\n" * (line - 1) + source, str(path), "exec")
            try:
                exec(code, namespace)
            except Exception as e:
                where = _lesson_line(e, str(path))
                raise LessonError(f"{path}: block {k} (line {where or line}) failed: {type(e).__name__}: {e}"
                                  f"\n{_lesson_traceback(e, str(path))}") from e
    return namespace


def _lesson_line(exc, filename):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return frames[-1].lineno if frames else None


def _lesson_traceback(exc, filename):
    """The traceback from the lesson's frame down (the runner's own frames left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the learning path's lessons (literate Markdown).")
    parser.add_argument("paths", nargs="*", help="lesson files or folders (default: docs/learn)")
    parser.add_argument("--quiet", action="store_true", help="hide what the lessons print")
    parser.add_argument("--kernels", choices=("reference", "fast"), default="reference",
                        help="run scratchnet on its reference kernels (default) or its fast ones")
    args = parser.parse_args(argv)
    paths = []
    for p in map(pathlib.Path, args.paths or [HERE]):
        if not p.exists():
            parser.error(f"no such lesson file or folder: {p}")
        paths += lessons(p) if p.is_dir() else [p]
    failed = 0
    for p in paths:
        t0 = time.perf_counter()
        try:
            run_lesson(p, quiet=args.quiet, kernels=args.kernels)
        except LessonError as e:
            failed += 1
            print(f"FAIL {e}", file=sys.stderr)
            continue
        print(f"ok   {p} ({time.perf_counter() - t0:.2f} s)")
    print(f"{len(paths) - failed} of {len(paths)} lessons passed ({args.kernels} kernels)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
