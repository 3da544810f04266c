# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := pipelines/mlops_demo

# Prefect state (the embedded server's database) stays inside the checkout.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: demo test lint format compat bench ui clean postgres

# The e2e tests run their Prefect server on PostgreSQL's server binaries (Debian's package).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,aws,sql]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/mage-prefect validate $(DEMO)
	$(BIN)/mage-prefect graph $(DEMO) train_model
	$(BIN)/mage-prefect run $(DEMO) train_model
	$(BIN)/mage-prefect output $(DEMO) train_model evaluate_model --format json
	$(BIN)/mage-prefect run $(DEMO) predict
	$(BIN)/mage-prefect output $(DEMO) predict export_predictions --format json
	$(BIN)/mage-prefect output $(DEMO) predict risk_by_contract --format text

test: $(BIN)/.installed postgres lint
	$(BIN)/python -m pytest

# Formatting and lint (ruff, line length 120); `make format` rewrites what `lint` refuses.
lint: $(BIN)/.installed
	$(BIN)/ruff format --check --quiet .
	$(BIN)/ruff check --quiet .

format: $(BIN)/.installed
	$(BIN)/ruff format --quiet .
	$(BIN)/ruff check --quiet --fix .

# The differential tier against real Mage, in a venv of its own: mage-ai pins pandas 2 / numpy 1.
MAGE_VENV := .venv-mage
$(MAGE_VENV)/.installed:
	$(PYTHON) -m venv $(MAGE_VENV)
	$(MAGE_VENV)/bin/pip install --quiet --disable-pip-version-check mage-ai==0.9.80
	touch $@

compat: $(BIN)/.installed $(MAGE_VENV)/.installed postgres
	$(BIN)/python -m pytest tests/compat

# Medians of BENCH_REPEAT runs per case (single runs vary by ±30 % on a small machine).
BENCH_REPEAT ?= 5
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py --repeat $(BENCH_REPEAT)
	$(BIN)/python benchmarks/validate.py --repeat $(BENCH_REPEAT)
	$(BIN)/python benchmarks/writes.py --repeat $(BENCH_REPEAT)

# The Prefect UI over the demo's runs (same PREFECT_HOME database).
ui: $(BIN)/.installed
	$(BIN)/prefect server start --host 127.0.0.1

clean:
	rm -rf $(VENV) $(MAGE_VENV) .prefect $(DEMO)/.mage_prefect $(DEMO)/exports mlruns
