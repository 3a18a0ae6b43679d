# carousel: the two commands a newcomer types are `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STORAGE ?= sqlite:///carousel.db
SPEC ?= studies/demo.toml

.PHONY: setup sysdeps test lint demo dashboard bench clean

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

test: setup sysdeps
	$(BIN)/pytest -q

demo: setup
	$(BIN)/study-launch $(SPEC) --storage $(STORAGE)
	$(BIN)/carousel-dashboard --storage $(STORAGE)

dashboard: setup
	$(BIN)/carousel-dashboard --storage $(STORAGE)

bench: setup
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) carousel.db carousel.db-wal carousel.db-shm
