# Patchdesk — the two commands of the README (`make run`, `make test`) plus helpers.
# Each target creates .venv when needed and reinstalls when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint venv clean bench bench-scale bench-gui dist dist-clean screenshots

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $@

venv: $(STAMP)

# PyInstaller for `make dist`, kept out of the run/test install.
BUILD_STAMP := $(VENV)/.installed-build
$(BUILD_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[build]'
	@touch $@

run: $(STAMP)
	$(BIN)/patchdesk

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The importers' fuzz suite with the long profile (many more hypothesis examples than `make test`
# runs, the corpus in tests/data/hostile/ with the default host cap); any test_*_fuzz.py joins it.
.PHONY: fuzz
fuzz: $(STAMP)
	PATCHDESK_FUZZ=long $(BIN)/python -m pytest -o timeout=3600 $(wildcard tests/unit/app/test_*_fuzz.py) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.fanout --hosts 50 --concurrency 20

# The CLI's scan of 50 hosts counted from process start, against the OpenSSH client (bench/cli_scan.py;
# root; test hosts on PATCHDESK_TEST_SUBNET, default 127.0.52). BENCH_ARGS adds options.
.PHONY: bench-cli
bench-cli: $(STAMP)
	$(BIN)/python -m bench.cli_scan --hosts 50 --concurrency 20 --rounds 5 $(BENCH_ARGS)

# Fan-out at scale (bench/RESULTS.md, "Fan-out at 50 to 1,000 hosts"): BENCH_HOSTS real test hosts
# (default 1,000, over consecutive /24s from PATCHDESK_TEST_SUBNET), one round at concurrency 50 against
# the OpenSSH client, then a full scan through the GUI's job worker; BENCH_ARGS adds options.
bench-scale: $(STAMP)
	$(BIN)/python -m bench.fanout --hosts $${BENCH_HOSTS:-1000} --concurrency 50 --rounds 1 --patch-rounds 0 \
		--no-ansible --no-default-kex --worker --subnet $${PATCHDESK_TEST_SUBNET:-127.0.50} $(BENCH_ARGS)

# The GUI at 5,000 hosts / 1,000,000 pending rows (bench/RESULTS.md). The generated database is
# cached under ~/.cache/patchdesk-bench/; the scan part (e) needs root for the test hosts.
# BENCH_GUI_ARGS=--quick for a smoke run.
bench-gui: $(STAMP)
	PATCHDESK_TEST_SUBNET=$${PATCHDESK_TEST_SUBNET:-127.0.60} $(BIN)/python -m bench.gui_scale $(BENCH_GUI_ARGS)

# docs/screenshots/: the main views and dialogs and a first start's empty views, light and dark, at 1280x800
# and 1920x1080, offscreen over a generated fleet (no test hosts, no root).
screenshots: $(STAMP)
	$(BIN)/python docs/make_screenshots.py docs/screenshots

# The packaged build for offline sites: dist/patchdesk/ and dist/patchdesk-<version>-linux-<arch>.tar.gz,
# then the bundle's own smoke test (README: "Packaged build / offline sites").
dist: $(BUILD_STAMP)
	$(BIN)/pyinstaller --noconfirm --log-level WARN build.spec
	env -u DISPLAY -u WAYLAND_DISPLAY dist/patchdesk/patchdesk --self-test

dist-clean:
	rm -rf build dist

# The layers (import-linter contracts in pyproject.toml), ruff's rules including complexity (C901),
# formatting, then mypy (strict on app/ and db/).
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check app db ui tests bench
	$(BIN)/ruff format --check app db ui tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
