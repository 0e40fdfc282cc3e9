# The two set-up commands are `make run` and `make test`; each creates .venv when it is missing
# and builds what it needs. `make lint` and `make bench` assume nothing more.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Rebuilt when any Rust or packaging input changes.
NATIVE_STAMP := $(VENV)/.native-built
RUST_SOURCES := $(shell find shm_layout protocols feeds venues risk execution tickrail -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock
LOOM_PREEMPTIONS ?= 4

.PHONY: run test test-rust test-loom test-python stubtest lint bench bench-all bench-ring bench-feeds bench-exec bench-tick bench-risk bench-quick memcheck clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 'maturin>=1.7,<2'

$(NATIVE_STAMP): $(PY) pyproject.toml $(RUST_SOURCES)
	$(VENV)/bin/maturin develop --release --locked --extras test,bench
	touch $@

Cargo.lock:
	cargo generate-lockfile

# The whole pipeline from the shipped configuration, with the live view, for 20 s (ARGS
# replaces the duration: `make run ARGS="--duration 0"` runs until Ctrl-C).
run: $(NATIVE_STAMP)
	$(PY) supervisor.py run --view live $(or $(ARGS),--duration 20)

test: test-rust test-loom stubtest test-python

test-rust:
	cargo test --workspace --locked

test-loom:
	RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=$(LOOM_PREEMPTIONS) CARGO_TARGET_DIR=target/loom \
		cargo test --locked --release -p shm_layout --lib

stubtest: $(NATIVE_STAMP)
	$(PY) -m mypy.stubtest tickrail._native --allowlist .mypy-stubtest-allowlist

test-python: $(NATIVE_STAMP)
	$(PY) -m pytest --ignore=tests/test_leaks.py --ignore=tests/test_worker_memory.py
	$(PY) -m pytest --memray tests/test_leaks.py tests/test_worker_memory.py

lint: $(NATIVE_STAMP)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy

# Before and after: the legacy Python engine and tickrail on the same venues, at 10k, 50k and
# 100k messages/s per venue (about 7 minutes; ARGS="--quick" for a short smoke run).
bench: $(NATIVE_STAMP)
	$(PY) -m bench.before_after $(ARGS)

# Every benchmark, one after the other.
bench-all: bench bench-ring bench-feeds bench-exec bench-tick bench-risk

bench-ring: $(NATIVE_STAMP)
	cargo build --release --locked -p ring-bench
	$(PY) -m bench.ring $(ARGS)

bench-feeds: $(NATIVE_STAMP)
	$(PY) -m bench.feeds $(ARGS)

# Tick-to-trade under the supervisor (two scenarios), with the gate's and gateway's own costs.
bench-tick: $(NATIVE_STAMP)
	$(PY) -m bench.tick_to_trade $(ARGS)

# The gate's cost per order and the OUCH gateway's throughput (one JSON object).
bench-exec:
	cargo build --release --locked -p exec-bench
	target/release/exec-bench $(ARGS)

# Portfolio risk updates per second (1, 2, all threads) against the reference rules, and the time
# from a breach to the trading state the gate reads.
bench-risk: $(NATIVE_STAMP)
	$(PY) -m bench.risk $(ARGS)

bench-quick: $(NATIVE_STAMP)
	cargo build --release --locked -p ring-bench
	$(PY) -m bench.ring --quick $(ARGS)

# Each worker's allocations per message in steady state, under memray (a minute of the shipped
# instance).
memcheck: $(NATIVE_STAMP)
	$(PY) -m bench.memcheck $(ARGS)

clean:
	rm -rf target $(VENV)
