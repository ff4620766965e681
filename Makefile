# Set-up and everyday commands. Each target creates the virtualenv on first use.
PYTHON   ?= python3.11
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
# The reference (tf.estimator 2.15 on tf.keras 2) has a virtualenv of its own.
REF_VENV  := .venv-reference
REF_PY    := $(REF_VENV)/bin/python
REF_STAMP := $(REF_VENV)/.installed
# The backend of `make demo`; `make test` runs the suite on each of BACKENDS.
BACKEND  ?= tensorflow
BACKENDS ?= tensorflow jax torch

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: demo test install clean bench bench-reference profile

$(STAMP): pyproject.toml
	command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[tensorflow,jax,torch,demo,test]"
	touch $(STAMP)

$(REF_STAMP):
	command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found"; exit 1; }
	test -x $(REF_PY) || $(PYTHON) -m venv $(REF_VENV)
	$(REF_PY) -m pip install --quiet tensorflow-cpu==2.15.1 tensorflow-estimator==2.15.0
	touch $(REF_STAMP)

install: $(STAMP)

demo: $(STAMP)
	KERAS_BACKEND=$(BACKEND) $(PY) examples/demo.py

# One pytest process per backend; all run, and any failure fails the target.
# JAX runs twice: as most users run it (32-bit), then the conformance suite
# with jax_enable_x64, where dtypes must match the reference exactly.
test: $(STAMP)
	@failed=""; \
	for backend in $(BACKENDS); do \
	  echo "=== KERAS_BACKEND=$$backend ==="; \
	  KERAS_BACKEND=$$backend $(PY) -m pytest -q || failed="$$failed $$backend"; \
	  if [ $$backend = jax ]; then \
	    echo "=== KERAS_BACKEND=jax JAX_ENABLE_X64=1 (conformance) ==="; \
	    JAX_ENABLE_X64=1 KERAS_BACKEND=jax $(PY) -m pytest -q tests/conformance \
	      || failed="$$failed jax-x64"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED on:$$failed"; exit 1; fi; \
	echo "All backends passed: $(BACKENDS)"

# The benchmark table (benchmarks/README.md): keras_heads on each backend and
# the hand-written TensorFlow and JAX it is measured against.
bench: $(STAMP)
	$(PY) -m benchmarks.run

# The reference's timings (in its own virtualenv), in graph mode and with
# XLA, then the table with every result so far.
bench-reference: $(REF_STAMP) $(STAMP)
	mkdir -p benchmarks/results
	$(REF_PY) -m benchmarks.worker reference --out benchmarks/results/reference.json
	REFERENCE_MODE=jit $(REF_PY) -m benchmarks.worker reference \
	  --out benchmarks/results/reference-xla.json
	$(PY) -m benchmarks.run --table-only

# Where one workload's time goes, XLA thunk by thunk, keras_heads against
# the hand-written code (benchmarks/profile.py), e.g.
#   make profile BACKEND=jax WORKLOAD="W1 multi-label C=16"
WORKLOAD ?= W1 multi-label C=4096
profile: $(STAMP)
	KERAS_BACKEND=$(BACKEND) $(PY) -m benchmarks.profile "$(WORKLOAD)"

clean:
	rm -rf $(VENV) $(REF_VENV) build *.egg-info
