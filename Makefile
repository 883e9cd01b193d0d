# tensorslow: build, test and install.
#   make            the Lua module build/tensorslow/core.so and libtensorslow.a
#   make example    the main example (installs missing Debian packages first)
#   make test       lint + busted specs under lua5.4 + C host tests
#   make fuzz       the libFuzzer targets (tests/fuzz/) built with clang under
#                   ASan/UBSan, each run FUZZ_TIME seconds on its seed corpus
#                   (installs clang and libfuzzer-14-dev first); fuzz-build only builds
#   make install    PREFIX/DESTDIR honoured; Debian's Lua 5.4 paths by default

LUA      ?= lua5.4
CC       ?= cc
PKGS     := lua5.4 liblua5.4-dev lua-busted lua-check libopenblas-dev zlib1g-dev libcjson-dev pkg-config python3-numpy gzip
LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS   := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS  := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
OPT      ?= -O3
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN     += -Werror
endif
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden -fopenmp-simd -fno-trapping-math -fno-math-errno $(WARN) $(CFLAGS) \
              $(LUA_CFLAGS) $(BLAS_CFLAGS) -Isrc
# OpenBLAS is opened with dlopen on first use (src/blas.c), not linked.
LIBS     := -lcjson -lz -lm -lpthread -ldl

BUILD    ?= build
SRC      := $(wildcard src/*.c)
OBJ      := $(SRC:src/%.c=$(BUILD)/obj/%.o)
MODULE   := $(BUILD)/tensorslow/core.so
STATIC   := $(BUILD)/libtensorslow.a

PREFIX   ?= /usr/local
LUA_LMOD ?= $(PREFIX)/share/lua/5.4
LUA_CMOD ?= $(PREFIX)/lib/x86_64-linux-gnu/lua/5.4
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include

BUSTED   := $(LUA) /usr/bin/busted

.PHONY: all deps test spec lint example examples install install-rock clean check-globals asan bench \
        embed-test host-test asan-host-test tsan-test install-test fuzz fuzz-build

all: $(MODULE) $(STATIC)

# Installs the Debian packages the build and tests need, when any is missing.
deps:
	@missing=""; for p in $(PKGS) $(EXTRA_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BUILD)/obj/%.o: src/%.c src/*.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(MODULE): $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(OBJ) $(LDFLAGS) $(LIBS)

$(STATIC): $(OBJ)
	@rm -f $@
	ar rcs $@ $(OBJ)

spec: all
	$(BUSTED)

lint:
	luacheck -q lua spec examples

test: deps
	$(MAKE) all
	$(MAKE) lint
	$(MAKE) spec
	$(MAKE) check-globals
	$(MAKE) embed-test
	$(MAKE) host-test

# The main job: trains Fashion-MNIST (Debian's dataset-fashion-mnist), reports
# test accuracy, saves fashion_mnist.safetensors. `make example ARGS=--restore`
# evaluates the saved checkpoint instead; other ARGS: see the script's header.
RUN_LUA = $(LUA) -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path; package.cpath="$(BUILD)/?.so;"..package.cpath'
example:
	$(MAKE) EXTRA_PKGS="dataset-fashion-mnist" deps
	$(MAKE) all
	$(RUN_LUA) examples/fashion_mnist.lua $(ARGS)

# The tutorial's examples: the first graph, the perceptron, the multi-layer perceptron.
examples: deps
	$(MAKE) all
	$(RUN_LUA) examples/affine.lua
	$(RUN_LUA) examples/perceptron.lua
	$(RUN_LUA) examples/mlp.lua

# No writable static or global data in the objects: symbols in .data*,
# .bss*, thread-local or common sections (.data.rel.ro is read-only).
check-globals: $(OBJ)
	@bad=$$(for o in $(OBJ); do objdump -t $$o | awk -v o=$$o '{ \
	    sec = ""; for (i = 2; i < NF; i++) if ($$i ~ /^[.*]/) { sec = $$i; break } \
	    if (sec ~ /^\.(data|bss|tdata|tbss)/ && sec !~ /^\.data\.rel\.ro/ || sec == "*COM*") \
	      if ($$NF !~ /^\./) print o": "$$NF" ("sec")" }'; done); \
	if [ -n "$$bad" ]; then echo "writable global or static data:"; echo "$$bad"; exit 1; fi; \
	echo "check-globals: no writable global data"

# The spec suite against a build with AddressSanitizer and UBSan.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=.ci/lsan.supp \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  $(BUSTED) --cpath="build-asan/?.so"

# C hosts (examples/embed, tests/*.c) include the public header alone: -I src
# is the only project path they see; they link libtensorslow.a, Lua and BLAS.
HOST_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) $(LUA_CFLAGS) -I src -pthread
HOST_LIBS  := $(STATIC) $(LUA_LIBS) $(LIBS)
HOST_ENV   := LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;'
HOST_TESTS := $(basename $(notdir $(wildcard tests/*.c)))

$(BUILD)/embed/host: examples/embed/host.c src/tensorslow.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -DTS_LUA_DIR='"$(CURDIR)/lua"' \
	  -DTS_MODEL='"$(CURDIR)/examples/embed/model.lua"' $< -o $@ $(LDFLAGS) $(HOST_LIBS)

# The example at the top of tensorslow.h, cut out of the comment.
$(BUILD)/tests/header_example.c: src/tensorslow.h
	@mkdir -p $(dir $@)
	sed -n '/^ \* Example:/,/^ \* Build/s/^ \*   //p' $< > $@

$(BUILD)/tests/header_example: $(BUILD)/tests/header_example.c $(STATIC)
	$(CC) $(HOST_CFLAGS) $< -o $@ $(LDFLAGS) $(HOST_LIBS)

$(BUILD)/tests/%: tests/%.c src/tensorslow.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $< -o $@ $(LDFLAGS) $(HOST_LIBS)

embed-test: $(BUILD)/embed/host $(BUILD)/tests/header_example
	echo '#include "tensorslow.h"' | $(CC) -std=c99 -pedantic $(WARN) -fsyntax-only -I src -x c -
	if command -v $(CXX) >/dev/null; then echo '#include "tensorslow.h"' | \
	  $(CXX) -std=c++11 $(WARN) -fsyntax-only -I src -x c++ -; fi
	$(BUILD)/embed/host > $(BUILD)/embed/out.txt
	diff -u examples/embed/expected.txt $(BUILD)/embed/out.txt
	$(HOST_ENV) $(BUILD)/tests/header_example > $(BUILD)/tests/header_example.txt
	echo "1.5 3.5 3.5 7.5" | diff -u - $(BUILD)/tests/header_example.txt
	@echo "embed-test: ok"

host-test: $(HOST_TESTS:%=$(BUILD)/tests/%)
	@for t in $(HOST_TESTS); do echo "== $$t"; $(HOST_ENV) $(HOST_RUN) $(BUILD)/tests/$$t || exit 1; done

# The host tests with AddressSanitizer (leaks included, no suppressions: a
# host's lua_close must give everything back) and the threads test with
# ThreadSanitizer (OpenBLAS kept to one thread: its pool is not instrumented);
# any report fails.
asan-host-test:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  HOST_RUN="env ASAN_OPTIONS=detect_leaks=1" \
	  host-test embed-test

TSAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
tsan-test:
	$(MAKE) BUILD=build-tsan CFLAGS="$(TSAN_FLAGS)" LDFLAGS="-fsanitize=thread" build-tsan/tests/threads
	TSAN_OPTIONS="halt_on_error=1 exitcode=66" OPENBLAS_NUM_THREADS=1 $(HOST_ENV) build-tsan/tests/threads

# libFuzzer targets, one per parser (tests/fuzz/fuzz_*.c; DEVELOPERS.md, "Fuzzing").
# The sources are compiled with clang into FUZZ_BUILD with coverage and
# ASan/UBSan (any report aborts); each run reads the committed seeds in
# tests/fuzz/corpus/<target>/ and writes what it finds into a scratch corpus
# under FUZZ_BUILD (libFuzzer adds to its first directory only), so runs never
# grow the repository. Any crash, leak, timeout or out-of-memory fails.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_TIME    ?= 30
FUZZ_TARGETS := npy safetensors idx idx_gz saver lua_values
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -DTS_NO_CLONES
FUZZ_OBJ     := $(SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_ENV     := ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
                LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp UBSAN_OPTIONS=print_stacktrace=1
FUZZ_ARGS    := -max_total_time=$(FUZZ_TIME) -timeout=20 -rss_limit_mb=2048 -print_final_stats=1
# One lua_State lives across inputs, so each input ends with live
# allocations and LeakSanitizer would scan the heap after every one (4x
# slower) without ever finding a leak: everything is reachable from the state.
FUZZ_LUA_ARGS := -detect_leaks=0 -max_len=512

$(FUZZ_BUILD)/obj/%.o: src/%.c src/*.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L -fvisibility=hidden -fno-math-errno $(WARN) \
	  $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(LUA_CFLAGS) $(BLAS_CFLAGS) -Isrc -c $< -o $@

$(FUZZ_BUILD)/fuzz_idx_gz: tests/fuzz/fuzz_idx.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -DFUZZ_IDX_GZ $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	  $(LUA_CFLAGS) -Isrc $< $(FUZZ_OBJ) -o $@ $(LUA_LIBS) $(LIBS)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -DTS_LUA_DIR='"$(CURDIR)/lua"' $(WARN) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer $(LUA_CFLAGS) -Isrc $< $(FUZZ_OBJ) -o $@ $(LUA_LIBS) $(LIBS)

fuzz-build:
	$(MAKE) EXTRA_PKGS="clang libfuzzer-14-dev" deps
	$(MAKE) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

# Long runs by hand: make fuzz-build, then e.g.
#   nice build-fuzz/fuzz_npy -runs=10000000 build-fuzz/corpus/npy tests/fuzz/corpus/npy
fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t && \
	  echo "== fuzz_$$t for $(FUZZ_TIME) s" && \
	  extra=; [ $$t = lua_values ] && extra="$(FUZZ_LUA_ARGS)"; \
	  $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_ARGS) $$extra \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ \
	    $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t > $(FUZZ_BUILD)/fuzz_$$t.log 2>&1; \
	  rc=$$?; grep -E "^(stat::number_of_executed_units|#[0-9]+ *DONE)|ERROR|SUMMARY|Test unit written" \
	    $(FUZZ_BUILD)/fuzz_$$t.log; \
	  if [ $$rc != 0 ]; then tail -60 $(FUZZ_BUILD)/fuzz_$$t.log; echo "fuzz_$$t: FAILED"; fail=1; \
	  else echo "fuzz_$$t: ok"; fi; \
	done; exit $$fail

install: all
	install -d $(DESTDIR)$(LUA_CMOD)/tensorslow $(DESTDIR)$(LUA_LMOD)/tensorslow \
	  $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_CMOD)/tensorslow/core.so
	install -m 644 lua/tensorslow/*.lua $(DESTDIR)$(LUA_LMOD)/tensorslow/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 644 src/tensorslow.h $(DESTDIR)$(INCDIR)/

# make install into a scratch DESTDIR, then the header's example built against
# what was installed alone (no project path), and the module loaded from there.
install-test: $(BUILD)/tests/header_example.c
	rm -rf $(BUILD)/dest
	$(MAKE) install DESTDIR=$(CURDIR)/$(BUILD)/dest PREFIX=/usr/local
	d=$(CURDIR)/$(BUILD)/dest/usr/local; \
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) $(LUA_CFLAGS) -I$$d/include \
	  $< -o $(BUILD)/dest/header_example $(LDFLAGS) -L$$d/lib -ltensorslow $(LUA_LIBS) $(LIBS) && \
	LUA_PATH="$$d/share/lua/5.4/?.lua;$$d/share/lua/5.4/?/init.lua;;" \
	  $(BUILD)/dest/header_example | grep -qx "1.5 3.5 3.5 7.5" && \
	LUA_PATH="$$d/share/lua/5.4/?.lua;$$d/share/lua/5.4/?/init.lua;;" \
	LUA_CPATH="$$d/lib/x86_64-linux-gnu/lua/5.4/?.so;;" \
	  $(LUA) -e 'local ts = require "tensorslow"; assert(package.searchpath("tensorslow.core", package.cpath):find("$(BUILD)/dest", 1, true)); assert((ts.tensor{1, 2} * 2):get(2) == 4)'
	@echo "install-test: ok"

clean:
	rm -rf build build-asan build-tsan

# What luarocks installs (module and Lua files into the rock's tree).
install-rock: all
	install -d $(DESTDIR)$(LUA_CMOD)/tensorslow $(DESTDIR)$(LUA_LMOD)/tensorslow
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_CMOD)/tensorslow/core.so
	install -m 644 lua/tensorslow/*.lua $(DESTDIR)$(LUA_LMOD)/tensorslow/

# Benchmarks side by side with NumPy and PyTorch (installs them if missing).
build/bench_gemm: bench/gemm.c
	$(CC) -O2 $(BLAS_CFLAGS) $< -o $@ $(BLAS_LIBS)

bench: deps
	$(MAKE) EXTRA_PKGS="python3-numpy python3-torch dataset-fashion-mnist" deps
	$(MAKE) all build/bench_gemm
	$(LUA) bench/run.lua
