# kirz: `make demo` and `make test` set themselves up (a .venv with the project and its dev extras).
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export KIRZ_HOME ?= $(CURDIR)/var

.PHONY: demo test bench bench-history bench-nightly airflow airflow-prod setup clean

$(STAMP): pyproject.toml
	@bash scripts/setup-venv.sh $(VENV)
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/kirz demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-history: $(STAMP)
	$(BIN)/python benchmarks/history.py

bench-nightly: $(STAMP)
	$(BIN)/python benchmarks/nightly.py

airflow: $(STAMP)
	$(BIN)/kirz airflow

airflow-prod: $(STAMP)
	$(BIN)/kirz airflow --production

clean:
	rm -rf var .pytest_cache
