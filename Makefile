# Every target creates .venv when it is missing; a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# Bytecode caches on: with PYTHONDONTWRITEBYTECODE set (as on the CI machines) every `vigil` the
# tests start compiled bot/ from source and every test worker re-rewrote every test module:
# 0.07 s per start, 2.4 s per worker, about 30 s of the fast suite's CPU.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run check test test-fast test-slow lint format bench container-test clean i18n-update i18n-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/vigil run

# The fast suite runs in parallel: its tests mostly wait on local servers, subprocesses and
# timers, so more workers than cores pay off; work stealing keeps the long tests from
# finishing last on one worker. Every test uses its own ports, tmp_path and servers.
WORKERS ?= 10
PARALLEL := -n $(WORKERS) --dist worksteal

# What a developer runs before a commit: lint, types, then the fast tests.
check: lint test-fast

# The whole suite: fast tests, then the slow soak/corpus runs (serial: they measure timing).
test: test-fast test-slow

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(PARALLEL)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format bot tests bench
	$(BIN)/ruff check --fix bot tests bench

# The bot's words (README, Development: adding a message): extract ids into the catalogs, check them.
i18n-update: $(STAMP)
	$(BIN)/python -m bot.i18n.maintain update

i18n-check: $(STAMP)
	$(BIN)/python -m bot.i18n.maintain check

bench: $(STAMP)
	$(BIN)/python -m bench

# Builds the Dockerfile with buildah (no Docker engine needed) and smoke-tests the image; root.
container-test:
	tests/container/build_and_smoke.sh --install

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
