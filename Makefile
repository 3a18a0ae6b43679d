# carousel: the two commands a newcomer types are `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STORAGE ?= sqlite:///carousel.db
SPEC ?= studies/demo.toml

.PHONY: setup sysdeps test lint demo dashboard bench reproduce clean compose-test load-test wheelhouse base-images

# Re-runs pip only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build on disk, never the multi-GB CUDA wheels.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# System packages some tests drive for real: headless Chromium (dashboard end-to-end test) and
# docker-compose (validates docker-compose.yml without an engine). Installed only when missing.
sysdeps:
	@need=""; \
	test -x /usr/bin/chromium || need="$$need chromium"; \
	command -v docker-compose >/dev/null || need="$$need docker-compose"; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$need; \
	  else echo "missing system packages:$$need (apt-get install -y$$need)"; fi; \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The compose stack test needs a Docker engine and minutes: `make compose-test`, not here.
test: setup sysdeps
	$(BIN)/pytest -q -m "not compose"

# Builds the images (offline from ./wheelhouse when it holds wheels; stand-in base images from
# Debian when no registry answers), runs the stack, kills a worker and the launcher, tears down.
compose-test: setup
	$(BIN)/pytest -q -s -m compose tests/deploy/test_compose_stack.py

# 2,000 tiny trials, 8 in flight, on the local-process stack while the dashboard's pages are
# timed (under 2 s each): minutes, so not in `make test`.
load-test: setup sysdeps
	CAROUSEL_LOAD_TEST=1 $(BIN)/pytest -q -s tests/deploy/test_local_load.py

# Wheels for an offline image build (docker build --build-arg OFFLINE=1): the versions of .venv.
wheelhouse: setup
	mkdir -p wheelhouse
	$(BIN)/pip freeze --exclude-editable | grep -v '^carousel' > wheelhouse/constraints.txt
	$(BIN)/pip download --quiet -d wheelhouse -c wheelhouse/constraints.txt \
	  torch==2.13.0 '.[cluster]' 'setuptools>=68' wheel

# python:3.11-slim and postgres:16, or stand-ins built from Debian where no registry answers.
base-images:
	bash deploy/base-images.sh

demo: setup
	$(BIN)/study-launch $(SPEC) --storage $(STORAGE)
	$(BIN)/carousel-dashboard --storage $(STORAGE)

dashboard: setup
	$(BIN)/carousel-dashboard --storage $(STORAGE)

bench: setup
	$(BIN)/python -m benchmarks.run_all

# Every studies/paper/ spec into one database (resumes: stop and rerun any time), then
# benchmarks/results/paper.md, a row per LSTM row of Tables 1-9. Hours on 2 cores.
REPRO_STORAGE ?= sqlite:///reproduce.db
reproduce: setup
	$(BIN)/python -m benchmarks.reproduce --storage $(REPRO_STORAGE)

clean:
	rm -rf $(VENV) carousel.db carousel.db-wal carousel.db-shm
