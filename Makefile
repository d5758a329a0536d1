# consultation-nlp: set-up from nothing into .venv, the main job, and the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROJECT ?= demo-project
CORPUS := corpora/vcs-commissioning/units.jsonl
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo demo-batch test test-fast browser clean-demo

# A stamp file so set-up runs once, and again when the dependencies change.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first, so nothing pulls the multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,fast,cluster]'
	@if $(BIN)/pip list 2>/dev/null | grep -qi '^nvidia'; then echo "CUDA packages crept in"; exit 1; fi
	# The default embedder's int8 model, built once into the user cache (~20 s), so no run
	# (and no test with its own NLP_CACHE_DIR) pays for it.
	$(BIN)/python -c "from nlp.embed import get_embedder; get_embedder('onnx-int8').model_dir()"
	touch $@

setup: $(VENV)/.installed

# The main job: a project from the bundled corpus, coded, opened in the review app.
demo: setup
	$(BIN)/nlp demo $(PROJECT) $(if $(NO_APP),--no-app,)

# Batch variant: coded quotes and a report draft written to $(PROJECT)/out, no app.
demo-batch:
	$(MAKE) demo NO_APP=1

# System tools the tests use: Chromium for the browser test, LibreOffice + poppler to check the
# report renders, PostgreSQL for the two-reviewer test (Debian packages; needs root, as in CI).
SYSTEM_PKGS := chromium chromium-driver libreoffice-writer poppler-utils fonts-liberation fonts-dejavu-core postgresql
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v soffice >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PKGS) >/dev/null; fi

test: setup browser
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

clean-demo:
	rm -rf $(PROJECT)
