# yimen build: `make` builds build/yimen; `make run` and `make test` are the two commands.
.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD    ?= build
PREFIX   ?= /usr/local
CC       ?= cc
PYTHON   ?= /usr/bin/python3
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

PKGS     := libuv lua5.4 jansson sqlite3 openssl libargon2 libqrencode libmagic xlsxwriter libzip expat libcurl zlib
# Per-plugin extra flags: PLUGIN_PKGS_<name> are pkg-config packages the plugin alone
# compiles and links against (their Debian -dev packages are in DEB_PKGS).
PLUGIN_PKGS_documents := poppler-glib cairo libzip
PLUGIN_PKGS_ALL := $(sort $(foreach v,$(filter PLUGIN_PKGS_%,$(.VARIABLES)),$($(v))))
DEPS_OK  := $(shell pkg-config --exists $(PKGS) $(PLUGIN_PKGS_ALL) 2>/dev/null && test -f $(LLHTTP_SRC)/llhttp.c && echo yes)
PKG_CFLAGS := $(if $(DEPS_OK),$(shell pkg-config --cflags $(PKGS)))
PKG_LIBS   := $(if $(DEPS_OK),$(shell pkg-config --libs $(PKGS)))

SANITIZE ?=
OPT      ?= -O2 -g
CFLAGS   ?= $(OPT)
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Wno-format-zero-length -Wno-format-truncation
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(SANITIZE) -D_GNU_SOURCE -Icore -Icore/include -I$(BUILD)/gen -I$(LLHTTP_INC) $(PKG_CFLAGS) -fno-strict-aliasing
LDLIBS   := $(PKG_LIBS) -lm -ldl -lpthread

CORE_SRC  := $(filter-out core/main.c,$(wildcard core/*.c))
CORE_OBJ  := $(CORE_SRC:core/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/schema_gen.o
LLHTTP_OBJ := $(BUILD)/obj/llhttp/llhttp.o $(BUILD)/obj/llhttp/api.o $(BUILD)/obj/llhttp/http.o
SCHEMA    := $(sort $(wildcard core/schema/*.sql))
# C plugins: plugins/<name>/*.c -> build/plugins/<name>/<name>.so, schema/ beside it.
PLUGIN_NAMES := $(notdir $(patsubst %/,%,$(dir $(wildcard plugins/*/*.c))))
PLUGIN_SOS   := $(foreach n,$(sort $(PLUGIN_NAMES)),$(BUILD)/plugins/$(n)/$(n).so)
# ... and plugins/<name>/www (its pages) -> build/plugins/<name>/www, refreshed when a file changes.
PLUGIN_WWW   := $(foreach n,$(sort $(PLUGIN_NAMES)),$(BUILD)/plugins/$(n)/.www-stamp)
PLUGIN_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(SANITIZE) -D_GNU_SOURCE -fPIC -Icore/include $(if $(DEPS_OK),$(shell pkg-config --cflags jansson))
plugin_cflags = $(if $(and $(DEPS_OK),$(PLUGIN_PKGS_$(1))),$(shell pkg-config --cflags $(PLUGIN_PKGS_$(1))))
plugin_libs   = $(if $(and $(DEPS_OK),$(PLUGIN_PKGS_$(1))),$(shell pkg-config --libs $(PLUGIN_PKGS_$(1))))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit api-test ui-test check-asan bench fuzz install clean check-deps

all: check-deps $(BUILD)/yimen $(PLUGIN_SOS) $(PLUGIN_WWW)

check-deps:
	@if [ "$(DEPS_OK)" != yes ]; then echo "missing build dependencies: run 'make deps' (as root) first" >&2; exit 1; fi

# Debian packages for building, running and `make test`; `make bench` and
# `make fuzz` add theirs. When root: apt-get update, then install what is missing.
DEB_PKGS  := gcc make pkg-config libuv1-dev node-llhttp libsqlite3-dev sqlite3 liblua5.4-dev \
             libssl-dev libjansson-dev libcmocka-dev python3 python3-pytest python3-requests \
             libargon2-dev libqrencode-dev libmagic-dev libxlsxwriter-dev libzip-dev libexpat1-dev libcurl4-openssl-dev zlib1g-dev procps \
             python3-selenium chromium chromium-driver libpoppler-glib-dev libcairo2-dev
BENCH_PKGS := nginx-light wrk curl libnginx-mod-http-lua lua-cjson
FUZZ_PKGS  := clang libclang-rt-14-dev
deps:
	@missing=$$(for p in $(DEB_PKGS) $(EXTRA_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all installed"; \
	elif [ "$$(id -u)" = 0 ]; then echo "deps: installing" $$missing; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else echo "deps: missing packages; run: sudo apt-get update && sudo apt-get install -y" $$missing >&2; exit 1; fi

$(BUILD)/gen/schema_gen.c: $(SCHEMA) core/embed.sh
	@mkdir -p $(dir $@)
	@echo "  GEN  $@"; core/embed.sh $(SCHEMA) > $@

$(BUILD)/obj/schema_gen.o: $(BUILD)/gen/schema_gen.c
	@mkdir -p $(dir $@)
	@echo "  CC   $<"; $(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: core/%.c $(wildcard core/*.h core/include/*.h) | $(BUILD)/gen/schema_gen.c
	@mkdir -p $(dir $@)
	@echo "  CC   $<"; $(CC) $(ALL_CFLAGS) -c $< -o $@

# llhttp is generated C; its own warnings are not ours to fix.
$(BUILD)/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC   $<"; $(CC) -std=gnu11 $(CFLAGS) $(SANITIZE) -I$(LLHTTP_INC) -w -c $< -o $@

$(BUILD)/libyimen.a: $(CORE_OBJ) $(LLHTTP_OBJ)
	@echo "  AR   $@"; rm -f $@; ar rcs $@ $^

$(BUILD)/yimen: $(BUILD)/obj/main.o $(BUILD)/libyimen.a
	@echo "  LD   $@"; $(CC) $(ALL_CFLAGS) -rdynamic -o $@ $^ $(LDLIBS)

# A plugin is installed by rename(), never by rewriting a file a running worker maps.
.SECONDEXPANSION:
$(BUILD)/plugins/%.so: $$(wildcard plugins/$$(*D)/*.c plugins/$$(*D)/*.h plugins/$$(*D)/schema/*.sql) core/include/yimen.h
	@mkdir -p $(dir $@)
	@echo "  CC   $@"; $(CC) $(PLUGIN_CFLAGS) $(call plugin_cflags,$(*D)) -shared -o $@.tmp $(filter %.c,$^) $(if $(DEPS_OK),$(shell pkg-config --libs jansson)) $(call plugin_libs,$(*D)) && mv -f $@.tmp $@
	@rm -rf $(dir $@)schema; if [ -d plugins/$(*D)/schema ]; then cp -r plugins/$(*D)/schema $(dir $@)schema; fi

# A worker reads www/ once at start: replacing the directory whole is safe while serving.
$(BUILD)/plugins/%/.www-stamp: $$(shell find plugins/$$*/www 2>/dev/null) plugins/$$*
	@d=$(BUILD)/plugins/$*; mkdir -p $$d; rm -rf $$d/www.tmp; \
	if [ -d plugins/$*/www ]; then echo "  WWW  $$d/www"; cp -r plugins/$*/www $$d/www.tmp && rm -rf $$d/www && mv $$d/www.tmp $$d/www; \
	else rm -rf $$d/www; fi; touch $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libyimen.a
	@mkdir -p $(dir $@)
	@echo "  CC   $<"; $(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libyimen.a $(LDLIBS) -lcmocka

# Sub-makes, so a fresh machine sees the packages `deps` just installed.
run:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/yimen demo -c config/yimen.conf --if-empty
	exec $(BUILD)/yimen serve -c config/yimen.conf

unit: all $(UNIT_BIN)
	@failed=""; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed="$$failed $$(basename $$t)"; done; \
	if [ -n "$$failed" ]; then echo "unit tests failed:$$failed" >&2; exit 1; fi

api-test: all
	$(PYTHON) -m pytest -q tests/api

# The browser tests (tests/ui): Chromium through Selenium, never skipped for want of it.
CHROMIUM     ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
ui-test: all
	@for f in $(CHROMIUM) $(CHROMEDRIVER); do test -x $$f || { echo "ui-test: $$f missing: run 'make deps' (chromium chromium-driver python3-selenium)" >&2; exit 1; }; done
	@$(PYTHON) -c 'import selenium' || { echo "ui-test: python3-selenium missing: run 'make deps'" >&2; exit 1; }
	YIMEN_CHROMIUM=$(CHROMIUM) YIMEN_CHROMEDRIVER=$(CHROMEDRIVER) $(PYTHON) -m pytest -q tests/ui

test: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory api-test
	@$(MAKE) --no-print-directory ui-test

# The ASan binary runs from build/ (as build/yimen-asan) so that <bindir>/.. is the
# source tree, where the defaults find config/, core/www and lua/.
ASAN := BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
        SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
check-asan: all
	$(MAKE) $(ASAN) all
	cp build/asan/yimen build/yimen-asan.tmp && mv -f build/yimen-asan.tmp build/yimen-asan
	$(MAKE) $(ASAN) unit
	YIMEN_BIN=build/yimen-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 $(PYTHON) -m pytest -q tests/api

bench:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(BENCH_PKGS)"
	@$(MAKE) --no-print-directory all
	tests/bench/http.sh
	tests/bench/auth.sh
	tests/bench/plugins.sh
	tests/bench/sse.sh
	tests/bench/search.sh
	tests/bench/dispatch.sh
	tests/bench/tasks.sh
	tests/bench/supervision.sh

fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(FUZZ_PKGS)"
	@$(MAKE) --no-print-directory all
	$(MAKE) -C tests/fuzz

# The installed tree mirrors the source tree (bin/, core/www, config/calendar,
# lua/) under $(PREFIX)/lib/yimen, so defaults relative to the binary hold.
LIBDIR := $(PREFIX)/lib/yimen
install: all
	install -d $(DESTDIR)$(LIBDIR)/bin/plugins $(DESTDIR)$(LIBDIR)/core $(DESTDIR)$(LIBDIR)/config \
	  $(DESTDIR)$(LIBDIR)/lua $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/yimen $(DESTDIR)/lib/systemd/system
	install -m 0755 $(BUILD)/yimen $(DESTDIR)$(LIBDIR)/bin/yimen.tmp && mv -f $(DESTDIR)$(LIBDIR)/bin/yimen.tmp $(DESTDIR)$(LIBDIR)/bin/yimen
	ln -sf ../lib/yimen/bin/yimen $(DESTDIR)$(PREFIX)/bin/yimen
	rm -rf $(DESTDIR)$(LIBDIR)/core/www && cp -r core/www $(DESTDIR)$(LIBDIR)/core/www
	rm -rf $(DESTDIR)$(LIBDIR)/config/calendar && cp -r config/calendar $(DESTDIR)$(LIBDIR)/config/calendar
	install -m 0644 config/common-passwords.txt $(DESTDIR)$(LIBDIR)/config/common-passwords.txt
	for so in $(PLUGIN_SOS); do n=$$(basename $$so .so); d=$(DESTDIR)$(LIBDIR)/bin/plugins/$$n; \
	  install -d $$d && install -m 0755 $$so $$d/$$n.so.tmp && mv -f $$d/$$n.so.tmp $$d/$$n.so && \
	  rm -rf $$d/schema && if [ -d $(BUILD)/plugins/$$n/schema ]; then cp -r $(BUILD)/plugins/$$n/schema $$d/; fi && \
	  rm -rf $$d/www && if [ -d $(BUILD)/plugins/$$n/www ]; then cp -r $(BUILD)/plugins/$$n/www $$d/; fi; done
	for d in lua/*/; do n=$$(basename $$d); [ "$$n" = yimen ] && continue; \
	  rm -rf $(DESTDIR)$(LIBDIR)/lua/$$n.tmp && cp -r $$d $(DESTDIR)$(LIBDIR)/lua/$$n.tmp && \
	  rm -rf $(DESTDIR)$(LIBDIR)/lua/$$n && mv $(DESTDIR)$(LIBDIR)/lua/$$n.tmp $(DESTDIR)$(LIBDIR)/lua/$$n; done
	test -f $(DESTDIR)/etc/yimen/yimen.conf || sed 's|^data_dir = .*|data_dir = "/var/lib/yimen"|' config/yimen.conf > $(DESTDIR)/etc/yimen/yimen.conf
	sed 's|@PREFIX@|$(PREFIX)|g' config/yimen.service > $(DESTDIR)/lib/systemd/system/yimen.service

clean:
	rm -rf build
