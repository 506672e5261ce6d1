"""The command line with bad arguments and failing runs: every subcommand answers a mistake with one line on stderr
naming what is wrong, exit status 2 for a bad argument and 1 for a failure at run time, and never a traceback
(unless --debug or SCRATCHNET_DEBUG=1 asks for one)."""
import os
import struct
import subprocess
import sys
import zlib

import numpy
import pytest

from scratchnet import cli
from scratchnet.data import write_idx

SAMPLE = os.path.join(os.path.dirname(cli.__file__), "data", "fashion_mnist_sample")


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _png_header(width, height):
    """A PNG whose header declares width×height pixels (no pixel data: Pillow refuses it from the header)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + \
        chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "text.png").write_text("not an image")
    (d / "bomb.png").write_bytes(_png_header(30000, 30000))
    (d / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (d / "a_file").write_text("x")
    empty = d / "empty_data"
    empty.mkdir()
    small = d / "small_images"
    small.mkdir()
    for stem, arr in (("train-images-idx3-ubyte", numpy.zeros((4, 14, 14), numpy.uint8)),
                      ("t10k-images-idx3-ubyte", numpy.zeros((4, 14, 14), numpy.uint8)),
                      ("train-labels-idx1-ubyte", numpy.zeros(4, numpy.uint8)),
                      ("t10k-labels-idx1-ubyte", numpy.zeros(4, numpy.uint8))):
        write_idx(small / stem, arr)
    return d


BAD_ARGUMENTS = [
    # argparse's own: unknown command, option, choice; missing and malformed values
    ["nosuchcommand"], ["train", "--nosuch"], ["train", "--model", "huge"], ["train", "--epochs"],
    ["gan", "--loss", "hinge"], ["style", "--net", "resnet"], ["evaluate"], ["predict", "x.npz"],
    # numbers out of range or not numbers
    ["train", "--epochs", "0"], ["train", "--epochs", "-3"], ["train", "--epochs", "2.5"], ["train", "--epochs", "x"],
    ["train", "--batch-size", "0"], ["train", "--limit", "0"], ["train", "--lr", "0"], ["train", "--lr", "-1e-3"],
    ["train", "--lr", "nan"], ["train", "--lr", "inf"], ["train", "--lr", "fast"], ["train", "--seed", "-1"],
    ["train", "--nproc", "0"],
    ["gan", "--steps", "0"], ["gan", "--batch-size", "1"], ["gan", "--sample-every", "0"], ["gan", "--lr", "0"],
    ["gan", "--limit", "-5"], ["gan", "--mode-seeking", "-1"], ["gan", "--quality-samples", "-1"],
    ["gan", "--limit", "10", "--batch-size", "64"],
    ["transfer", "--shots", "0"], ["transfer", "--shots"], ["transfer", "--seeds", "-2"],
    ["transfer", "--pretrain-epochs", "0"], ["transfer", "--finetune-epochs", "0"],
    ["transfer", "--pretrain-classes", "0", "1", "2", "3", "10"],
    ["transfer", "--pretrain-classes", "0", "1", "2", "3", "3"],
    ["style", "chelsea", "gravel", "--size", "0"], ["style", "chelsea", "gravel", "--size", "100000"],
    ["style", "chelsea", "gravel", "--steps", "0"], ["style", "chelsea", "gravel", "--style-weight", "-1"],
    ["style", "chelsea", "gravel", "--tv-weight", "nan"], ["style", "chelsea"], ["style"],
    ["dream", "chelsea", "--octaves", "0"], ["dream", "chelsea", "--octaves", "100"],
    ["dream", "chelsea", "--size", "5000"], ["dream", "chelsea", "--steps", "0"], ["dream", "chelsea", "--lr", "0"],
    ["dream", "chelsea", "--octave-scale", "0.5"], ["dream", "chelsea", "--jitter", "-1"],
    ["dream", "chelsea", "--objective", "class:hat"], ["dream", "chelsea", "--objective", "block9"],
    ["dream", "chelsea", "--objective", "block2:a,b"], ["dream", "nosuchphoto"],
    ["gan", "sample", "ck.npz", "-n", "0"], ["gan", "sample", "ck.npz", "--class", "spaceship"],
    ["gan", "sample"],
    # devices
    ["train", "--device", "gpu"], ["train", "--device", "cuda:x"], ["dream", "chelsea", "--device", "tpu"],
    # paths
    ["train", "--data", "/no/such/folder"], ["gan", "--data", "/no/such/folder"], ["transfer", "--data", "/no/such"],
    ["demo", "--data", "/no/such/folder"], ["evaluate", "/no/such.npz"], ["predict", "/no/such.npz", "x.png"],
    ["gan", "sample", "/no/such.npz"], ["style", "/no/such.png", "gravel"], ["dream", "/no/such.png"],
    ["style", "chelsea", "gravel", "--net", "vgg19", "--weights", "/no/such.safetensors"],
]


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=" ".join)
def test_bad_arguments_get_one_line_and_exit_2(argv, capsys, tmp_path):
    argv = [a.replace("ck.npz", str(tmp_path / "ck.npz")) for a in argv]
    (tmp_path / "ck.npz").write_bytes(b"")
    if argv[0] not in ("evaluate", "predict") and argv[:2] != ["gan", "sample"]:
        argv = argv + ["-o", str(tmp_path / "out")]     # so that no mistake is hidden by an unwritable default
    code, out, err = run(argv, capsys)
    assert code == 2, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("scratchnet"), err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("make", [
    lambda d: ["train", "--out", str(d / "a_file")],                          # an existing file as --out
    lambda d: ["gan", "--out", str(d / "a_file" / "sub")],                    # a path through a file
    lambda d: ["dream", "chelsea", "-o", str(d / "a_file")],
    lambda d: ["gan", "sample", str(d / "bad.npz"), "-o", str(d)],            # a folder as an output file
    lambda d: ["predict", str(d / "bad.npz"), str(d / "missing.png")],
    lambda d: ["train", "--data", str(d / "a_file")],                         # a file as --data
])
def test_bad_paths_exit_2(make, files, capsys):
    code, out, err = run(make(files), capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_exits_2(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    code, _, err = run(["train", "--out", str(locked / "run")], capsys)
    assert code == 2 and "permission denied" in err


@pytest.mark.parametrize("make, expect", [
    (lambda d: ["evaluate", str(d / "bad.npz")], "bad.npz"),                          # a corrupt checkpoint
    (lambda d: ["predict", str(d / "bad.npz"), str(d / "text.png")], "bad.npz"),
    (lambda d: ["gan", "sample", str(d / "bad.npz"), "-o", str(d / "s.png")], "bad.npz"),
    (lambda d: ["style", str(d / "text.png"), "gravel", "-o", str(d / "o")], "text.png"),   # not an image
    (lambda d: ["dream", str(d / "bomb.png"), "-o", str(d / "o")], "Pillow's limit"),       # a decompression bomb
    (lambda d: ["style", "chelsea", str(d / "bomb.png"), "-o", str(d / "o")], "Pillow's limit"),
    (lambda d: ["train", "--data", str(d / "empty_data"), "--out", str(d / "o")], "empty_data"),   # no dataset
    (lambda d: ["train", "--data", str(d / "small_images"), "--out", str(d / "o")], "28×28"),    # wrong image size
    (lambda d: ["gan", "--data", str(d / "small_images"), "--out", str(d / "o"), "--batch-size", "2"], "28×28"),
    (lambda d: ["style", "chelsea", "gravel", "--size", "20", "-o", str(d / "o")], "smaller than"),
])
def test_failures_at_run_time_get_one_line_and_exit_1(make, expect, files, capsys):
    code, out, err = run(make(files), capsys)
    assert code == 1, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in err, err


def test_predict_refuses_a_non_image_with_one_line(files, tmp_path, capsys):
    from scratchnet.apps import classify
    classify.train("reference", SAMPLE, epochs=1, limit=64, out=str(tmp_path), progress=False)
    ck = str(tmp_path / "checkpoint.npz")
    for image, expect in ((files / "text.png", "cannot read"), (files / "bomb.png", "Pillow's limit")):
        code, out, err = run(["predict", ck, str(image)], capsys)
        assert code == 1 and len(err.splitlines()) == 1 and expect in err, err


def test_a_missing_extra_is_named(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)        # as if tqdm were not installed
    monkeypatch.setitem(sys.modules, "tqdm.autonotebook", None)
    code, out, err = run(["train", "--data", SAMPLE, "--limit", "64", "--epochs", "1", "--out", str(tmp_path)],
                         capsys)
    assert code == 1 and err.strip() == "scratchnet train: needs the tqdm package: pip install 'scratchnet[apps]'"


def test_debug_shows_the_traceback(tmp_path, files):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(cli.__file__))] +
                                                       sys.path))
    argv = [sys.executable, "-m", "scratchnet.cli", "evaluate", str(files / "bad.npz")]
    plain = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode == 1 and len(plain.stderr.splitlines()) == 1 and "Traceback" not in plain.stderr
    debug = subprocess.run(argv + ["--debug"], capture_output=True, text=True, env=env, timeout=120)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "SerializationError" in debug.stderr
    by_env = subprocess.run(argv, capture_output=True, text=True, env=dict(env, SCRATCHNET_DEBUG="1"), timeout=120)
    assert "Traceback" in by_env.stderr
    usage = subprocess.run([sys.executable, "-m", "scratchnet.cli", "train", "--epochs", "0"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1 and "--epochs" in usage.stderr


# ---- the app table: every command is a module with add_arguments(parser) and run(args) ----

@pytest.mark.parametrize("name", list(cli.APPS))
def test_every_table_entry_is_an_app_with_informative_help(name, capsys):
    command = cli.app(name)
    assert callable(command.add_arguments) and callable(command.run)
    with pytest.raises(SystemExit) as exit_:
        cli.main([name, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and out.startswith(f"usage: scratchnet {name}") and cli.APPS[name][1] in out


def test_help_shows_each_options_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["transfer", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for shown in ("(default: 20 50 100)", "(default: 2)", "(default: out/transfer)", "(default: 0 1 2 3 4)"):
        assert shown in out, shown
    with pytest.raises(SystemExit):
        cli.main(["gan", "sample", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 64)" in out and "(default: samples.png)" in out


def test_top_level_help_lists_every_command(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for name, (_, text) in cli.APPS.items():
        assert name in out and text.split()[0] in out


def test_the_full_parser_knows_every_command_and_gan_sample():
    parser = cli.build_parser()
    args = parser.parse_args(["gan", "sample", __file__, "-n", "4", "-o", "x.png"])
    assert (args.command, args.gan_command, args.n, args.command_prog) == ("gan", "sample", 4, "scratchnet gan sample")
    args = parser.parse_args(["gan", "--steps", "3"])
    assert (args.gan_command, args.steps, args.out) == (None, 3, "out/gan")   # no subcommand: train


def test_only_the_chosen_app_is_imported(tmp_path):
    code = ("import sys; from scratchnet import cli; assert cli.main(['info']) == 0; "
            "print(sorted(m for m in sys.modules if m.startswith('scratchnet.apps.')))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(cli.__file__))] + sys.path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    loaded = r.stdout.strip().splitlines()[-1]
    assert "scratchnet.apps.info" in loaded and "scratchnet.apps.gan" not in loaded and "stylize" not in loaded


class _App:
    """A stand-in app module registered with one table row."""
    calls = []

    @staticmethod
    def add_arguments(p):
        p.add_argument("--size", type=int, default=3)
        p.add_argument("--fail", default="")

    @staticmethod
    def check(args):
        if args.size > 10:
            raise cli.UsageError(f"argument --size: at most 10, got {args.size}")

    @staticmethod
    def run(args):
        if args.fail == "value":
            raise ValueError("the app refused: size 3")
        if args.fail == "bug":
            raise TypeError("oops")
        _App.calls.append(args.size)


def test_a_new_app_is_one_table_row(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "scratchnet.apps.fake_app", _App)
    monkeypatch.setitem(cli.APPS, "fake", ("apps.fake_app", "a stand-in app"))
    _App.calls.clear()
    assert run(["fake", "--size", "5"], capsys)[0] == 0 and _App.calls == [5]
    for argv, status, expect in ((["fake", "--size", "11"], 2, "scratchnet fake: argument --size: at most 10"),
                                 (["fake", "--size", "x"], 2, "scratchnet fake: argument --size"),
                                 (["fake", "--fail", "value"], 1, "scratchnet fake: the app refused: size 3"),
                                 (["fake", "--fail", "bug"], 1, "scratchnet fake: TypeError: oops (an internal error")):
        code, out, err = run(argv, capsys)
        assert code == status and len(err.splitlines()) == 1 and err.startswith(expect), (argv, err)
        assert "Traceback" not in err
    assert _App.calls == [5]
