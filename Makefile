# peerwork: `make run` starts a demo, `make test` runs every check. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the tests use (real clients and reference servers).
APT_PACKAGES := python3-venv smbclient samba samba-testsuite iproute2 procps psmisc \
  avahi-daemon avahi-utils dbus wsdd swaks libnet-ssleay-perl libio-socket-ssl-perl \
  cups-ipp-utils cups-daemon cups-client mutt tmux \
  dnsmasq-base udhcpc isc-dhcp-client bind9-dnsutils nftables dnsperf

.PHONY: run test venv apt-deps lint typecheck unit integration bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

venv: $(STAMP)

apt-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  case "$$missing" in *wsdd*) \
	    echo "wsdd is a test client here: not leaving its daemon announcing this PC on the LAN"; \
	    systemctl disable --now wsdd.service >/dev/null 2>&1 || true;; \
	  esac; \
	fi

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

integration: venv apt-deps
	$(BIN)/pytest -q tests/integration

test: venv apt-deps lint typecheck
	$(BIN)/pytest -q -n 2 --durations=15

run: venv
	@bash samples/demo.sh

bench: venv apt-deps
	$(BIN)/python bench/smb.py

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
