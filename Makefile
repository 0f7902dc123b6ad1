# The two README commands: `make site` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: site test serve validate system bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	touch $(STAMP)

system:
	bash scripts/system-deps.sh

.PHONY: install
install: $(STAMP)

site: $(STAMP) system
	$(PY) -m generator build

validate: $(STAMP)
	$(PY) -m generator validate

test: $(STAMP) system
	$(PY) -m pytest -q

serve: site
	@echo "http://127.0.0.1:8000/"
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory site

# Benchmark (bench/run.py): `make bench` at national size, `make bench SIZE=small` for a quick run.
SIZE           ?= national
BASELINE_PAGES ?= 1000
bench: $(STAMP) system
	$(PY) -m bench.run --size $(SIZE) --baseline-pages $(BASELINE_PAGES)

clean:
	rm -rf site build .pytest_cache
