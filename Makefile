# Everything runs from a local virtualenv so a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-packages run test lint typecheck unit soak golden clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed system-packages

# What some tests need from the system, as package:command: chromium (the status page in a real
# browser), jq (the README's recipes), systemd (systemd-analyze verify of the service unit),
# redis-server (the scale-out tests start their own on a free port).
# Installed as root where apt-get is (Debian); elsewhere named once, and those tests skip.
SYSTEM_PACKAGES := chromium:chromium jq:jq systemd:systemd-analyze redis-server:redis-server

system-packages:
	@missing=""; \
	for pair in $(SYSTEM_PACKAGES); do \
		command -v "$${pair#*:}" >/dev/null 2>&1 || missing="$$missing $${pair%%:*}"; \
	done; \
	if [ -z "$$missing" ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make install: apt-get install$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get -qq update && apt-get -qq install --no-install-recommends$$missing >/dev/null; \
	else \
		echo "make install: missing$$missing (not root with apt-get): their tests will skip"; \
	fi

run: install
	$(BIN)/scrapy crawl neu_news

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# The fast suite; slow soaks are marked and run by `make soak` (CI runs both via `make test`).
unit: install
	$(BIN)/pytest -n 2

soak: install
	$(BIN)/pytest -m soak

test: lint typecheck unit soak

golden: install
	$(BIN)/python -m tests.golden

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The scheduler against the local replica sites: offline, about ten seconds.
.PHONY: demo
demo: install
	$(BIN)/python -m scheduler.demo

# Speed, CPU, request cost and scale (one machine, many sites, workers on a broker): about 18 minutes, not a test.
.PHONY: bench
bench: install
	$(BIN)/python -m benchmarks
