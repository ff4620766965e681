# Set-up and everyday commands. Each target creates the virtualenv on first use.
PYTHON   ?= python3.11
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
# The backend of `make demo`; `make test` runs the suite on each of BACKENDS.
BACKEND  ?= tensorflow
BACKENDS ?= tensorflow jax torch

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[tensorflow,jax,torch,demo,test]"
	touch $(STAMP)

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

clean:
	rm -rf $(VENV) build *.egg-info
