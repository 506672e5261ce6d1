# Two commands for a fresh machine: `make demo` and `make test` (each sets up .venv first).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

.PHONY: setup demo worked-example test test-gpu-sim test-reference test-slow fuzz torch fashion-mnist browser bench \
	bench-quick bench-scripts clean mpi test-mpi test-mpi-gpu-sim bench-scaling op-table restore-baselines
setup: $(VENV)/.installed

# The main demo: the gallery. Every app run small (CNN training on whatever Fashion-MNIST is found, the bundled
# sample on a fresh machine; a conditional GAN; style transfer; texture synthesis; DeepDream) -> out/demo/index.html
demo: setup
	$(BIN)/scratchnet demo --out out/demo

# README's op reference: the table of every op's forward and backward math, regenerated from the docstrings
op-table: setup
	$(BIN)/python -m scratchnet.ops --readme README.md

worked-example: setup
	$(BIN)/python demos/mlp_worked_example.py --out out/worked_example

test: setup
	$(BIN)/python -m pytest -q

# The whole suite on the GPU code path without a GPU: a CuPy stand-in (tests/cupy_standin, NumPy underneath, CuPy's
# host/device rules and two fake devices) first on the path, on device cuda and again on cuda:1. Hypothesis runs its
# "dev" profile here (15 examples a property): `make test` sweeps the math with 100; these lanes check the
# host/device wall and device placement, and three full sweeps would not fit CI's time.
SIM := PYTHONPATH=$(CURDIR)/tests/cupy_standin$${PYTHONPATH:+:$$PYTHONPATH} HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-dev}
test-gpu-sim: setup
	$(SIM) SCRATCHNET_DEVICE=cuda $(BIN)/python -m pytest -q -p no:cacheprovider
	$(SIM) SCRATCHNET_DEVICE=cuda:1 $(BIN)/python -m pytest -q -p no:cacheprovider

# The whole suite again on the readable twins of the fast kernels (SCRATCHNET_KERNELS=reference, see
# scratchnet/kernel_mode.py): conv as Im2Col + matmul, pooling, batch norm and the activations as plain tensor ops.
# tests/test_reference_kernels.py checks the two modes against each other; this lane checks that everything else
# holds on the short path too. Tests of a fast route say so (use_kernels("fast")).
test-reference: setup
	SCRATCHNET_KERNELS=reference HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-dev} $(BIN)/python -m pytest -q -p no:cacheprovider

# Accuracy on the full dataset (needs `make fashion-mnist`); CI runs these too
test-slow: setup
	$(BIN)/python -m pytest -q -m slow -s

# The file readers fuzzed long: mutated .safetensors files must get the same accept/refuse as the safetensors
# package, and every reader may raise only its documented error (`make test` runs 3,000 cases of each)
fuzz: setup
	SCRATCHNET_FUZZ_N=100000 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_readers.py -k fuzz

# The full Fashion-MNIST from Debian's package (root needed)
fashion-mnist:
	test -d /usr/share/datasets/fashion-mnist || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)

# Debian's chromium, for the test that opens the demo gallery in a headless browser (root needed; CI does this)
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# PyTorch CPU, the reference the tests and benchmarks compare against (optional; CI installs it)
torch: setup
	$(BIN)/python -m pip install -q torch==2.13.0

# MPI for data-parallel training (scratchnet.distributed): MPICH and mpi4py from PyPI, into the venv
mpi: setup
	$(BIN)/python -m pip install -q -e '.[mpi]'

# The MPI tests on 2 ranks (tests/test_mpi.py). As root Open MPI needs the two ALLOW variables (MPICH ignores
# them); MPIEXEC_TIMEOUT (MPICH/Hydra) ends a run whose ranks wait on each other forever. Exit status non-zero
# when a test failed on any rank; rank 0 prints the report, the others log to $$TMPDIR/scratchnet-pytest-rank*.log
MPI_ENV := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 MPIEXEC_TIMEOUT=$${MPIEXEC_TIMEOUT:-1200}
test-mpi: mpi
	$(MPI_ENV) $(BIN)/mpiexec -n 2 $(BIN)/python -m pytest -q -m mpi -p no:cacheprovider tests/test_mpi.py

# The same on the CuPy stand-in: MPI with device arrays staged through the host (the GAN app test is left out:
# the stand-in lacks ndarray.real, which the FFT convolution uses)
test-mpi-gpu-sim: mpi
	PYTHONPATH=$(CURDIR)/tests/cupy_standin$${PYTHONPATH:+:$$PYTHONPATH} SCRATCHNET_DEVICE=cuda $(MPI_ENV) \
		$(BIN)/mpiexec -n 2 $(BIN)/python -m pytest -q -m mpi -p no:cacheprovider tests/test_mpi.py -k "not gan_app"

# Data-parallel scaling (all-reduce bandwidth, 1 vs 2 processes for the CNN step): run it on a quiet machine
bench-scaling: mpi
	$(BIN)/python benchmarks/scaling.py

# CPU vs GPU vs PyTorch on the same workloads (scratchnet/bench.py): table, out/bench/bench.json and bench.png.
# Measure on a quiet machine; `make bench-quick` is the under-2-minutes version.
bench: setup
	$(BIN)/scratchnet bench --out out/bench

bench-quick: setup
	$(BIN)/scratchnet bench --quick --out out/bench

# Classical restoration baselines (bicubic SR, TV / non-local means denoising, biharmonic inpainting) on the held-out
# photos and garments -> docs/restore_baselines.json (scores, not timings: ~3 minutes on 2 cores)
restore-baselines: setup
	$(BIN)/python benchmarks/restore_baselines.py

# The older per-topic benchmark scripts (framework overhead, CNN step and layers with memory, style step)
bench-scripts: setup
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/overhead_ops.py
	$(BIN)/python benchmarks/cnn_step.py
	$(BIN)/python benchmarks/style_step.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
