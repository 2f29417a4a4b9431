# piranha: `make demo` starts the demo, `make test` runs every test.
# Both create .venv and install what they need (Debian packages too when run as root).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

# Debian packages the test suite needs (netns, nftables, conntrack, captures,
# the browser for GUI tests, a text browser, ping for fos gateway checks).
TEST_DEBS  := iproute2 nftables conntrack conntrackd tcpdump chromium w3m iputils-ping procps openssl
# Extra packages the benchmarks compare against.
BENCH_DEBS := haproxy nginx-light libnginx-mod-stream wrk keepalived

.PHONY: test demo lint unit bench screenshots venv clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	touch $@

$(VENV)/.demo: $(VENV)/.created pyproject.toml
	$(PIP) install -q -e '.[fast]'
	touch $@

$(VENV)/.test: $(VENV)/.created pyproject.toml
	$(PIP) install -q -e '.[test,fast]'
	touch $@ $(VENV)/.demo

demo: $(VENV)/.demo
	$(BIN)/piranha demo

lint: $(VENV)/.test
	$(BIN)/ruff check src tests bench tools

test: $(VENV)/.test
	@bash tools/system-packages.sh $(TEST_DEBS)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup $(PYTEST_ARGS)

# Fast inner loop: everything that needs neither root nor a browser.
unit: $(VENV)/.test
	$(BIN)/python -m pytest -p no:cacheprovider -m "not netns and not browser" $(PYTEST_ARGS)

bench: $(VENV)/.test
	@bash tools/system-packages.sh $(TEST_DEBS) $(BENCH_DEBS)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Refresh docs/screenshots/ from a browser run of the GUI tests.
screenshots: $(VENV)/.test
	PIRANHA_PUBLISH_SCREENSHOTS=1 $(BIN)/python -m pytest -p no:cacheprovider tests/gui/test_browser.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis
