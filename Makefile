# slotcache developer and CI targets.
#
#   make test    the CI command: gofmt check, go vet, go test -race (installs
#                redis-server, chromium and a C compiler with apt-get when
#                missing)
#   make bench   benchmarks, benchstat-friendly, saved to bench.txt
#   make bench-peers  slotcache side by side with otter, ristretto,
#                singleflight, go-redis/cache and rueidis (bench/ module)
#   make soak    long-running soak tests (SLOTCACHE_SOAK=1), if any exist
#   make demo    go run ./cmd/slotcache demo
#   make screenshot  regenerate docs/liveview.png in headless chromium
#
# Works on a fresh Debian machine with only Go installed: the Redis tests
# need a real redis-server binary, the live view's test a real headless
# chromium, and the race detector needs cgo, hence a C compiler; all are
# installed with apt-get (as root, or through sudo) when missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO ?= go

# Benchmark settings: `make bench BENCH=Hit BENCH_COUNT=10 BENCH_OUT=new.txt`.
BENCH       ?= .
BENCH_COUNT ?= 6
BENCH_OUT   ?= bench.txt

# Flags for the side-by-side run: `make bench-peers BENCH_PEERS_FLAGS=-quick`.
BENCH_PEERS_FLAGS ?=

# Soak settings: `make soak SOAK_TIMEOUT=2h`.
SOAK_TIMEOUT ?= 30m

# Extra flags for the demo: `make demo DEMO_FLAGS='-workers 128 -slots 50'`.
DEMO_FLAGS ?=

# Binaries the tests need, overridable to test this Makefile itself.
# redis-server also runs the sentinels (--sentinel); redis-cli builds the
# test Cluster (--cluster create). Debian ships them in redis-server and
# redis-tools.
REDIS_SERVER ?= redis-server
REDIS_CLI    ?= redis-cli
CHROMIUM     ?= chromium

# APT runs apt-get non-interactively, through sudo when not root and sudo
# exists. Without either, apt-get fails and the caller explains what to do.
APT = $$( [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && echo sudo ) \
	env DEBIAN_FRONTEND=noninteractive apt-get

# apt_install installs Debian packages $(1); if the first attempt fails
# (typically a stale or empty package index), it runs apt-get update and
# tries again. It never fails itself: callers check for what they need.
define apt_install
{ $(APT) install -y --no-install-recommends $(1) || \
  { $(APT) update && $(APT) install -y --no-install-recommends $(1); }; } || true
endef

.PHONY: test fmt-check vet race ensure-redis ensure-chromium ensure-cc bench bench-peers soak demo screenshot help

## test: everything CI checks (gofmt, go vet, go test -race with real Redis)
test: fmt-check vet race

## fmt-check: fail if gofmt would change any file, listing them
fmt-check:
	@files="$$(gofmt -l .)"; \
	if [ -n "$$files" ]; then \
	  echo "gofmt: these files are not formatted (run gofmt -w on them):" >&2; \
	  echo "$$files" >&2; \
	  exit 1; \
	fi

## vet: go vet ./...
vet:
	$(GO) vet ./...

## race: go test -race -count=1 ./...
race: ensure-redis ensure-chromium ensure-cc
	SLOTCACHE_CHROMIUM=$(CHROMIUM) CGO_ENABLED=1 $(GO) test -race -count=1 ./...

## ensure-redis: install redis-server and redis-tools (redis-cli) with apt-get if missing
ensure-redis:
	@if ! command -v $(REDIS_SERVER) >/dev/null 2>&1 || ! command -v $(REDIS_CLI) >/dev/null 2>&1; then \
	  echo "$(REDIS_SERVER) or $(REDIS_CLI) not found on PATH; installing redis-server and redis-tools with apt-get" \
	    "(the Redis tests start real redis-server processes, sentinels and a Cluster)"; \
	  $(call apt_install,redis-server redis-tools); \
	fi; \
	if ! command -v $(REDIS_SERVER) >/dev/null 2>&1 || ! command -v $(REDIS_CLI) >/dev/null 2>&1; then \
	  echo "error: $(REDIS_SERVER) or $(REDIS_CLI) is not on PATH and could not be installed." >&2; \
	  echo "  The Redis tests run real redis-server processes (one per test, sentinels" >&2; \
	  echo "  included) and build a test Cluster with redis-cli --cluster create." >&2; \
	  echo "  Install them, e.g. 'sudo apt-get install redis-server redis-tools' on" >&2; \
	  echo "  Debian/Ubuntu or 'brew install redis' on macOS, then run make test again." >&2; \
	  exit 1; \
	fi

## ensure-chromium: install chromium with apt-get if it is not on PATH
ensure-chromium:
	@if ! command -v $(CHROMIUM) >/dev/null 2>&1; then \
	  echo "$(CHROMIUM) not found on PATH; installing the chromium package with apt-get" \
	    "(the live view is tested in a real headless browser)"; \
	  $(call apt_install,chromium); \
	fi; \
	if ! command -v $(CHROMIUM) >/dev/null 2>&1; then \
	  echo "error: $(CHROMIUM) is not on PATH and could not be installed." >&2; \
	  echo "  slotcacheview's test loads the live view in headless chromium." >&2; \
	  echo "  Install it, e.g. 'sudo apt-get install chromium' on Debian" >&2; \
	  echo "  or 'brew install --cask chromium' on macOS, then run make test again." >&2; \
	  exit 1; \
	fi

## ensure-cc: install a C compiler with apt-get if missing (go test -race needs cgo)
ensure-cc:
	@cc="$$($(GO) env CC)"; cc="$${cc%% *}"; \
	if ! command -v "$$cc" >/dev/null 2>&1; then \
	  echo "C compiler $$cc not found; installing gcc and libc6-dev with apt-get" \
	    "(go test -race needs cgo)"; \
	  $(call apt_install,gcc libc6-dev); \
	fi; \
	if ! command -v "$$cc" >/dev/null 2>&1; then \
	  echo "error: the C compiler '$$cc' is not on PATH and could not be installed." >&2; \
	  echo "  go test -race needs cgo, hence a C compiler." >&2; \
	  echo "  Install one, e.g. 'sudo apt-get install gcc libc6-dev' on Debian/Ubuntu." >&2; \
	  exit 1; \
	fi

## bench: run every benchmark BENCH_COUNT times into BENCH_OUT, for benchstat
##        compare two runs: go run golang.org/x/perf/cmd/benchstat@latest old.txt new.txt
bench: ensure-redis
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) ./... | tee $(BENCH_OUT)
	@echo "Saved to $(BENCH_OUT). Compare two runs with:"
	@echo "  go run golang.org/x/perf/cmd/benchstat@latest old.txt new.txt"

## bench-peers: slotcache side by side with its peers, in one run (a few minutes;
##              BENCH_PEERS_FLAGS='-quick' for a smoke run, '-json' for machines)
bench-peers: ensure-redis
	cd bench && $(GO) run . $(BENCH_PEERS_FLAGS)

## soak: run the soak tests (named *Soak*, enabled by SLOTCACHE_SOAK=1); none is harmless
soak: ensure-redis ensure-cc
	SLOTCACHE_SOAK=1 CGO_ENABLED=1 $(GO) test -race -count=1 -run Soak -timeout $(SOAK_TIMEOUT) ./...

## demo: run the demo (set REDIS_URL to include cross-instance invalidation)
demo:
	$(GO) run ./cmd/slotcache demo $(DEMO_FLAGS)

## screenshot: regenerate docs/liveview.png (the live view under a mixed load, in headless chromium)
screenshot: ensure-chromium
	SLOTCACHE_CHROMIUM=$(CHROMIUM) SLOTCACHE_SCREENSHOT=$(CURDIR)/docs/liveview.png $(GO) test -count=1 -run TestPageInHeadlessChromium ./slotcacheview

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)
