# Install, run and test plumbing. `make test` is the one command a developer and CI run.
# Debian 12 with Python 3.11; apt, PyPI and npm are the only sources.

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

# apt needs root; a developer who is not root gets sudo.
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

# What the browser tests need from Debian: the browser and a font with Chinese glyphs.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc

# Front-end libraries, vendored so that the app never needs npm at run time: the Socket.IO client, and hls.js
# for live lectures' HLS streams in browsers without native HLS. Each is npm-package@version:file-in-package.
SOCKETIO_VERSION := 4.8.4
HLSJS_VERSION := 1.7.4
VENDORED := socket.io-client@$(SOCKETIO_VERSION):dist/socket.io.min.js hls.js@$(HLSJS_VERSION):dist/hls.min.js

# A private, throwaway PostgreSQL 15 cluster for the test suite (trust auth, loopback only).
PGBIN   := /usr/lib/postgresql/15/bin
PGDIR   ?= /tmp/tracker-pg
override PGDIR := $(abspath $(PGDIR))
PGPORT  ?= 54329
PGDB    := tracker_test
PG_URL  := postgresql+psycopg://postgres@127.0.0.1:$(PGPORT)/$(PGDB)
# As root the cluster runs as user postgres (PostgreSQL refuses to run as root); otherwise as you.
PGRUN   := $(if $(filter 0,$(shell id -u)),runuser -u postgres --,)

.PHONY: venv lock sysdeps vendor run test bench pg-start pg-stop

# venv: build .venv only when pyproject.toml or constraints.txt changed (the stamp file tracks it).
venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt --upgrade pip
	$(BIN)/pip install -q -c constraints.txt --upgrade 'setuptools<82' wheel
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	@# face-recognition without deps: its dependency `dlib` is a source build; dlib-bin provides the module.
	$(BIN)/pip install -q -c constraints.txt --no-deps face-recognition
	touch $@

# lock: re-resolve pyproject.toml in a scratch venv and pin every version, so all machines agree.
lock:
	@set -euo pipefail; \
	lockvenv=$$(mktemp -d); trap 'rm -rf "$$lockvenv"' EXIT; \
	$(PYTHON) -m venv $$lockvenv; \
	$$lockvenv/bin/pip install -q --upgrade pip; \
	$$lockvenv/bin/pip install -q --upgrade 'setuptools<82' wheel; \
	$$lockvenv/bin/pip install -q -e '.[test]'; \
	$$lockvenv/bin/pip install -q --no-deps face-recognition==1.3.0; \
	$$lockvenv/bin/pip freeze --all --exclude-editable > $$lockvenv/constraints.txt; \
	mv $$lockvenv/constraints.txt constraints.txt; \
	echo "constraints.txt: $$(wc -l < constraints.txt) pins"

# sysdeps: Debian packages the tests need (browser tests, Chinese text in PDFs and screenshots); apt only when missing.
sysdeps:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	[ -f $(CJK_FONT) ] || missing="$$missing fonts-wqy-zenhei"; \
	if [ -n "$$missing" ]; then \
		echo "sysdeps: installing$$missing"; \
		$(SUDO) apt-get update -q && $(APT_INSTALL) $$missing; \
	fi

# vendor: copy each file of VENDORED from its pinned npm package (npm checks the tarball's integrity) and record
# its version and checksums in static/vendor/VERSIONS.txt.
vendor:
	@set -euo pipefail; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	mkdir -p static/vendor; \
	{ echo "# Files in static/vendor/, copied from npm packages by \`make vendor\`; do not edit them by hand."; \
	  echo "# file  package@version  sha256 of the file  npm tarball integrity"; } > "$$tmp/VERSIONS.txt"; \
	for item in $(VENDORED); do \
		spec=$${item%%:*}; file=$${item#*:}; name=$$(basename "$$file"); \
		mkdir "$$tmp/pkg"; \
		tgz=$$(cd "$$tmp/pkg" && npm pack --silent "$$spec"); \
		tar -xzf "$$tmp/pkg/$$tgz" -C "$$tmp/pkg" "package/$$file"; \
		cp "$$tmp/pkg/package/$$file" "static/vendor/$$name"; \
		integrity=$$(cd "$$tmp/pkg" && npm view --silent "$$spec" dist.integrity); \
		echo "$$name  $$spec  sha256:$$(sha256sum "static/vendor/$$name" | cut -d' ' -f1)  $$integrity" >> "$$tmp/VERSIONS.txt"; \
		rm -rf "$$tmp/pkg"; \
	done; \
	cp "$$tmp/VERSIONS.txt" static/vendor/VERSIONS.txt; \
	cat static/vendor/VERSIONS.txt

# run: the demo on TRACKER_HOST:TRACKER_PORT (default 127.0.0.1:5000), database and demo data created first.
run: venv
	$(BIN)/tracker init-db
	$(BIN)/tracker demo
	exec $(BIN)/tracker serve

# test: the whole suite; TRACKER_DATABASE_URL switches it to PostgreSQL (see pg-start). No test collected is a failure.
test: venv sysdeps
	@rc=0; $(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure" >&2; fi; \
	exit $$rc

# bench: every bench/*.py in turn (none yet is fine).
bench: venv
	@set -e; benches="$(sort $(wildcard bench/*.py))"; \
	if [ -z "$$benches" ]; then echo "bench: no bench/*.py yet"; exit 0; fi; \
	for b in $$benches; do echo "== $$b"; $(BIN)/python "$$b"; done

# pg-start: a fresh cluster in $(PGDIR) on port $(PGPORT), with database $(PGDB); stops a stale one first.
pg-start: pg-stop
	@set -euo pipefail; \
	if [ ! -x $(PGBIN)/initdb ]; then $(SUDO) apt-get update -q && $(APT_INSTALL) postgresql; fi; \
	mkdir -p $(PGDIR); \
	if [ -n "$(PGRUN)" ]; then chown postgres:postgres $(PGDIR); fi; \
	cd $(PGDIR); \
	$(PGRUN) $(PGBIN)/initdb -D $(PGDIR)/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >$(PGDIR)/initdb.log; \
	if ! $(PGRUN) $(PGBIN)/pg_ctl -D $(PGDIR)/data -l $(PGDIR)/server.log -w -t 60 \
		-o "-p $(PGPORT) -k $(PGDIR) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null; then \
		echo "pg-start: the server did not start; its log:" >&2; cat $(PGDIR)/server.log >&2; exit 1; \
	fi; \
	$(PGRUN) $(PGBIN)/createdb -h $(PGDIR) -p $(PGPORT) -U postgres $(PGDB); \
	echo "PostgreSQL is up: TRACKER_DATABASE_URL=$(PG_URL)"

# pg-stop: stop the test cluster (also one left running by a crashed run, even if its folder is gone) and delete it.
pg-stop:
	@if [ -f $(PGDIR)/data/postmaster.pid ]; then \
		cd $(PGDIR); \
		$(PGRUN) $(PGBIN)/pg_ctl -D $(PGDIR)/data -m fast -w -t 30 stop >/dev/null 2>&1 || \
		$(PGRUN) $(PGBIN)/pg_ctl -D $(PGDIR)/data -m immediate -w stop >/dev/null 2>&1 || true; \
	fi; \
	for p in /proc/[0-9]*; do \
		[ "$$(cat $$p/comm 2>/dev/null)" = postgres ] || continue; \
		case "$$(readlink $$p/cwd 2>/dev/null)" in \
			"$(PGDIR)/data"|"$(PGDIR)/data (deleted)") kill -KILL "$${p#/proc/}" 2>/dev/null || true;; \
		esac; \
	done; \
	rm -rf $(PGDIR)
