# The two commands of the README: `make up` (set up, then run a one-node cluster in the
# foreground) and `make test` (set up, then the whole suite). `make setup` is the shared,
# idempotent part: Debian packages that are missing, then .venv with the project and its test
# extras. Everything is skipped when already done.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEB_PACKAGES := runc conmon containernetworking-plugins iptables nftables etcd-server etcd-client busybox-static \
                docker-registry iproute2 ca-certificates curl conntrack
ARGS ?=

.PHONY: setup system-packages up test lint bench clean

setup: system-packages $(STAMP)

system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then missing="$$missing python3-venv"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

up: setup
	@# bytecode for every module, as an installed wheel has it: each component imports the
	@# project at start, and compiling it in six processes at once costs seconds
	@$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/kyb up $(ARGS)

test: setup
	@$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/pytest $(ARGS)

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build dist
