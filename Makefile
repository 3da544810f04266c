# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := pipelines/mlops_demo

# Prefect state (the embedded server's database) stays inside the checkout.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: demo test lint format compat bench ui clean postgres bytecode

# The e2e tests run their Prefect server on PostgreSQL's server binaries (Debian's package).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

# The demo installs what the example project needs; the tests add their tools and servers' clients.
DEMO_EXTRAS := mlflow,sql,examples
# Not the snowflake extra: its connector[pandas] pins pandas<3, and the tests run on the pandas users get
# (3); dev has the plain connector, which fakesnow patches.
TEST_EXTRAS := dev,aws,gcs,sql,dbt,dask,ray,docker,kubernetes
PIP := $(BIN)/pip install --quiet --disable-pip-version-check

# The venv's activate script sets the same PREFECT_HOME, so the README's commands, run from a shell
# after `source .venv/bin/activate`, reach the local server and the UI that `make` uses.
$(BIN)/.demo-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[$(DEMO_EXTRAS)]'
	grep -q PREFECT_HOME $(BIN)/activate || echo 'export PREFECT_HOME="$(PREFECT_HOME)"' >> $(BIN)/activate
	touch $@

$(BIN)/.installed: $(BIN)/.demo-installed
	$(PIP) -e '.[$(TEST_EXTRAS)]'
	touch $@

# mage_prefect's bytecode, as pip writes it for a package it installs. An editable install has
# none, and where PYTHONDONTWRITEBYTECODE is set (CI images set it) Python would compile the
# package's sources again at every start: 0.4 s of every CLI run.
bytecode: $(BIN)/.demo-installed
	@$(BIN)/python -m compileall -q mage_prefect

demo: $(BIN)/.demo-installed bytecode
	$(BIN)/mage-prefect validate $(DEMO)
	$(BIN)/mage-prefect graph $(DEMO) train_model
	$(BIN)/mage-prefect run $(DEMO) train_model
	$(BIN)/mage-prefect output $(DEMO) train_model evaluate_model --format json
	$(BIN)/mage-prefect run $(DEMO) predict
	$(BIN)/mage-prefect output $(DEMO) predict export_predictions --format json
	$(BIN)/mage-prefect output $(DEMO) predict risk_by_contract --format text
	@$(BIN)/mage-prefect server status || echo "(the runs went to the Prefect server in PREFECT_API_URL)"
	@echo "In a shell: source $(BIN)/activate, then the README's commands (same Prefect home)."

test: $(BIN)/.installed bytecode postgres lint
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

# dbt as Mage's `dbt` extra pins it, with the one adapter the tests use (the extra adds a dozen more).
$(MAGE_VENV)/.dbt-installed: $(MAGE_VENV)/.installed
	$(MAGE_VENV)/bin/pip install --quiet --disable-pip-version-check dbt-core==1.10.20 dbt-adapters==1.22.5 dbt-duckdb==1.10.1
	touch $@

compat: $(BIN)/.installed bytecode $(MAGE_VENV)/.dbt-installed postgres
	$(BIN)/python -m pytest tests/compat

# Medians of BENCH_REPEAT runs per case (single runs vary by ±30 % on a small machine).
BENCH_REPEAT ?= 5
bench: $(BIN)/.installed bytecode $(MAGE_VENV)/.installed
	$(BIN)/python benchmarks/cli.py --repeat $(BENCH_REPEAT) --mage $(MAGE_VENV)/bin/mage
	$(BIN)/python benchmarks/run.py --repeat $(BENCH_REPEAT)
	$(BIN)/python benchmarks/validate.py --repeat $(BENCH_REPEAT)
	$(BIN)/python benchmarks/writes.py --repeat $(BENCH_REPEAT)
	cd benchmarks && ../$(BIN)/python runners.py --repeat 3 --mage ../$(MAGE_VENV)/bin/mage

# The Prefect UI over the demo's runs: the local server the runs use (started if needed).
ui: $(BIN)/.demo-installed
	$(BIN)/mage-prefect server start

clean:
	-$(BIN)/mage-prefect server stop
	rm -rf $(VENV) $(MAGE_VENV) .prefect $(DEMO)/.mage_prefect $(DEMO)/exports mlruns
