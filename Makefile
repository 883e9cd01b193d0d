# tensorslow: build, test and install. Targets (one line each):
#   make / make all   the Lua module build/tensorslow/core.so and libtensorslow.a
#   make deps         installs the Debian packages the build and tests need (apt-get)
#   make example      trains an MLP on Fashion-MNIST (examples/fashion_mnist.lua; ARGS=...)
#   make example-cnn  trains a CNN on Fashion-MNIST (examples/fashion_mnist_cnn.lua; ARGS=...)
#   make examples     the tutorial's examples (affine, perceptron, mlp)
#   make test         deps + build + lint + specs + check-globals/-layout/-symbols + C host tests
#   make spec         the busted specs under lua5.4 only
#   make lint         luacheck on lua/, spec/, examples/
#   make check-globals  no writable global or static data in the objects
#   make check-layout   only src/lua_*.c (and binding.h) include the Lua headers
#   make check-symbols  libtensorslow.a exports only the TS_API names, core.so only luaopen_*
#   make embed-test   the example C host and the header's example
#   make host-test    the C host tests (tests/*.c)
#   make asan         the specs against an AddressSanitizer + UBSan build (build-asan/)
#   make asan-host-test  the C host tests and embed-test under ASan/UBSan, leaks included
#   make tsan-test    tests/threads.c under ThreadSanitizer (build-tsan/)
#   make fuzz         the libFuzzer targets (tests/fuzz/) built with clang under ASan/UBSan,
#                     each run FUZZ_TIME seconds on its seed corpus (installs clang first)
#   make fuzz-build   only builds them (build-fuzz/)
#   make install      module, Lua files, libtensorslow.a and tensorslow.h; PREFIX (/usr/local)
#                     and DESTDIR honoured, Lua dirs as lua5.4 searches them (make lua-dirs)
#   make install-rock what luarocks installs (module and Lua files; rockspec/)
#   make install-test make install into build/dest, used from there
#   make lua-dirs     prints the Lua install directories for this PREFIX
#   make env          prints the two exports that point lua5.4 at this tree: eval "$(make -s env)"
#   make bench        benchmarks beside NumPy and PyTorch (installs them if missing)
#   make bench-dnnl   oneDNN at bench/conv.lua's convolutions (bench/dnnl_conv.c, bench/DNNL.md;
#                     installs libdnnl-dev if missing; ARGS=key filter)
#   make clean        removes build/, build-asan/, build-tsan/
#   mk/*.mk           areas with their own build pieces, included at the end: mk/onnx.mk
#                     (tensorslow.onnx_pb, make onnx-test, make fuzz-onnx), mk/onnx_export.mk
#                     (make embed-onnx-test), mk/mpi.mk (tensorslow.mpi_core), mk/speed.mk
#                     (bench/triad.c); they extend test-extra/asan-extra, all and PKGS
# Variables: BUILD (build dir), LUA, CC, CFLAGS/OPT, WERROR=1, PREFIX, DESTDIR,
# LUA_VERSION, LUA_CMOD, LUA_LMOD, LIBDIR, INCDIR, ARGS (examples), FUZZ_TIME,
# V=1 (print the full compiler and linker command lines), JOBS (parallel jobs of the
# builds the examples start; default: the number of processors).

LUA      ?= lua5.4
CC       ?= cc
PKGS     := g++ lua5.4 liblua5.4-dev lua-busted lua-check libopenblas-dev zlib1g-dev libcjson-dev pkg-config python3-numpy gzip
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
# x86-64: the AVX-512 clones of the hot kernels (TSI_CLONES, src/vmath.h) vectorise with the
# full 512-bit registers (GCC's generic tuning would keep them at 256); the other clones cannot.
# Small memsets and memcpys (a tensor struct, a kernel's accumulators) inline as unrolled
# stores rather than GCC's rep stos/movs, whose start-up (~30 cycles) cost more than a small
# op's arithmetic; larger ones call libc's.
# (GCC's options; clang, for the fuzzers, has none of the kind.)
STRINGOP := unrolled_loop:256:noalign,libcall:-1:noalign
STRINGOP_FLAGS := $(shell $(CC) -mmemset-strategy=$(STRINGOP) -mmemcpy-strategy=$(STRINGOP) \
  -Werror -E -x c /dev/null >/dev/null 2>&1 && echo -mmemset-strategy=$(STRINGOP) -mmemcpy-strategy=$(STRINGOP))
VEC_FLAGS := $(if $(filter x86_64-%,$(shell $(CC) -dumpmachine 2>/dev/null)),-mprefer-vector-width=512 \
  $(STRINGOP_FLAGS))
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden -fopenmp-simd -fno-trapping-math -fno-math-errno $(WARN) $(CFLAGS) \
              $(VEC_FLAGS) $(LUA_CFLAGS) $(BLAS_CFLAGS) -Isrc
# OpenBLAS is opened with dlopen on first use (src/blas.c), not linked.
LIBS     := -lcjson -lz -lm -lpthread -ldl

BUILD    ?= build

# Quiet rules: "  CC  file" instead of the command line, unless V=1.
ifneq ($(V),1)
Q        := @
QUIET_CC  = @echo "  CC      $@";
QUIET_LD  = @echo "  LD      $@";
QUIET_AR  = @echo "  AR      $@";
MAKEQ    := --no-print-directory
endif
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
# -j for a sub-make building the library, unless this make already runs in parallel
# (a jobserver is then passed down).
PARALLEL  = $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(JOBS))
SRC      := $(wildcard src/*.c)
OBJ      := $(SRC:src/%.c=$(BUILD)/obj/%.o)
MODULE   := $(BUILD)/tensorslow/core.so
STATIC   := $(BUILD)/libtensorslow.a
# The area modules compiled to bytecode beside core.so (mk/bytecode.lua; init.lua's I.require
# loads one only when its name carries the hash of the source package.path finds).
LUA_AREAS := $(filter-out lua/tensorslow/init.lua,$(wildcard lua/tensorslow/*.lua))
BYTECODE := $(BUILD)/tensorslow/lua/.stamp

# Lua install directories: under PREFIX=/usr the distribution's own (Debian's
# lua5.4.pc: /usr/lib/<multiarch>/lua/5.4, /usr/share/lua/5.4), else Lua's
# default layout PREFIX/lib/lua/V and PREFIX/share/lua/V, which lua5.4 searches
# for /usr/local (package.cpath, package.path). install-test checks it.
PREFIX   ?= /usr/local
LUA_VERSION := $(or $(LUA_VERSION),$(shell pkg-config --variable=major_version lua5.4 2>/dev/null),$(shell $(LUA) -e 'io.write(_VERSION:sub(5))' 2>/dev/null),5.4)
LUA_PC_CMOD := $(shell pkg-config --variable=INSTALL_CMOD lua5.4 2>/dev/null)
LUA_PC_LMOD := $(shell pkg-config --variable=INSTALL_LMOD lua5.4 2>/dev/null)
lua_cmod  = $(or $(if $(filter /usr /usr/,$(1)),$(LUA_PC_CMOD)),$(1)/lib/lua/$(LUA_VERSION))
lua_lmod  = $(or $(if $(filter /usr /usr/,$(1)),$(LUA_PC_LMOD)),$(1)/share/lua/$(LUA_VERSION))
LUA_CMOD ?= $(call lua_cmod,$(PREFIX))
LUA_LMOD ?= $(call lua_lmod,$(PREFIX))
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include

BUSTED   := $(LUA) /usr/bin/busted
OBJCOPY  ?= objcopy

.PHONY: all deps test spec lint example example-cnn examples install install-rock clean check-globals \
        check-layout asan bench embed-test host-test asan-host-test tsan-test install-test lua-dirs env \
        fuzz fuzz-build bench-dnnl

all: $(MODULE) $(STATIC) $(BYTECODE)

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
	$(QUIET_CC)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Only luaopen_tensorslow_core leaves the module (a version script): the
# ts_* API is for hosts that link libtensorslow.a.
$(BUILD)/core.map: Makefile
	@mkdir -p $(dir $@)
	$(Q)printf '{\n  global: luaopen_tensorslow_core;\n  local: *;\n};\n' > $@

$(MODULE): $(OBJ) $(BUILD)/core.map Makefile
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) -shared -o $@ $(OBJ) -Wl,--version-script=$(BUILD)/core.map $(LDFLAGS) $(LIBS)

$(BYTECODE): $(LUA_AREAS) mk/bytecode.lua
	@mkdir -p $(dir $@)
	@rm -f $(dir $@)*.luac
	@echo "  LUAC    $(dir $@)"
	$(Q)$(LUA) mk/bytecode.lua $(dir $@) $(LUA_AREAS)
	@touch $@

# One relocatable object (ld -r) whose hidden symbols, every internal tsi_*
# and tsb_* name (the objects are compiled with -fvisibility=hidden), are made
# local: the archive's only global symbols are tensorslow.h's TS_API names,
# so a host's own names never clash (make check-symbols). Both link again
# when the Makefile changes (cheap), so a build directory never keeps a
# library made by an older recipe.
$(STATIC): $(OBJ) Makefile
	@rm -f $@ $(BUILD)/libtensorslow.o
	$(QUIET_AR)$(LD) -r -o $(BUILD)/libtensorslow.o $(OBJ)
	$(Q)$(OBJCOPY) --localize-hidden $(BUILD)/libtensorslow.o
	$(Q)ar rcs $@ $(BUILD)/libtensorslow.o

spec: all
	$(BUSTED)

lint:
	luacheck -q lua spec examples

test: deps
	$(MAKE) $(PARALLEL) all
	$(MAKE) lint
	$(MAKE) spec
	$(MAKE) check-globals
	$(MAKE) check-layout
	$(MAKE) check-symbols
	$(MAKE) embed-test
	$(MAKE) host-test
	$(MAKE) test-extra

# The main job: trains Fashion-MNIST (Debian's dataset-fashion-mnist), reports
# test accuracy per epoch, per class and the confusion matrix, draws the SVG plots;
# it writes no checkpoint unless ARGS="--checkpoint PATH" asks, and ARGS=--restore
# evaluates that checkpoint instead of training; other ARGS: see --help. The library
# is built quietly (V=1: command lines) with -j.
RUN_LUA = $(LUA) -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path; package.cpath="$(BUILD)/?.so;"..package.cpath'
example:
	$(Q)$(MAKE) $(MAKEQ) EXTRA_PKGS="dataset-fashion-mnist" deps
	$(Q)$(MAKE) $(MAKEQ) $(PARALLEL) all
	$(Q)$(RUN_LUA) examples/fashion_mnist.lua $(ARGS)

# The convolutional network on the same data (ARGS: see the script's header).
example-cnn:
	$(Q)$(MAKE) $(MAKEQ) EXTRA_PKGS="dataset-fashion-mnist" deps
	$(Q)$(MAKE) $(MAKEQ) $(PARALLEL) all
	$(Q)$(RUN_LUA) examples/fashion_mnist_cnn.lua $(ARGS)

# LUA_PATH and LUA_CPATH for this tree with absolute paths, so a script runs from any
# directory after eval "$(make -s env)" (build first: make).
env:
	@echo 'export LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;"'
	@echo 'export LUA_CPATH="$(abspath $(BUILD))/?.so;;"'

# The tutorial's examples: the first graph, the perceptron, the multi-layer perceptron.
examples: deps
	$(Q)$(MAKE) $(MAKEQ) $(PARALLEL) all
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

# The global symbols of libtensorslow.a are exactly the TS_API names of
# tensorslow.h, and core.so exports luaopen_tensorslow_core alone.
.PHONY: check-symbols
TS_API_NAMES = sed -n 's/^TS_API[^(]*[ *]\([A-Za-z_0-9]*\)(.*/\1/p' src/tensorslow.h | sort
check-symbols: $(STATIC) $(MODULE)
	@want=$$($(TS_API_NAMES)); \
	got=$$(nm -g --defined-only $(STATIC) | awk 'NF == 3 { print $$3 }' | sort); \
	mod=$$(nm -D --defined-only $(MODULE) | awk 'NF == 3 { print $$3 }' | sort); \
	extra=$$(echo "$$got" | grep -vxF "$$want"); missing=$$(echo "$$want" | grep -vxF "$$got"); \
	if [ -n "$$extra" ] || [ -n "$$missing" ] || [ "$$mod" != luaopen_tensorslow_core ]; then \
	  [ -z "$$extra" ] || { echo "check-symbols: $(STATIC) exports other global symbols:"; echo "$$extra"; }; \
	  [ -z "$$missing" ] || { echo "check-symbols: $(STATIC) lacks TS_API names:"; echo "$$missing"; }; \
	  [ "$$mod" = luaopen_tensorslow_core ] || { echo "check-symbols: $(MODULE) exports:"; echo "$$mod"; }; \
	  exit 1; fi; \
	echo "check-symbols: $(STATIC) exports the $$(echo "$$want" | wc -l) TS_API names only," \
	  "$(MODULE) luaopen_tensorslow_core only"

# The layout rule (DEVELOPERS.md, "Layout"): the core (every src/ file but
# lua_*.c and binding.h) never includes a Lua header or the binding's.
LUA_HEADERS_RE := ^[[:space:]]*\#[[:space:]]*include[[:space:]]*[<"](lua|lauxlib|lualib|luaconf|binding)\.h[>"]
check-layout:
	@bad=$$(grep -lE '$(LUA_HEADERS_RE)' $(filter-out src/lua_%.c src/binding.h,$(wildcard src/*.c src/*.h))); \
	if [ -n "$$bad" ]; then echo "check-layout: core files including a Lua or binding header:"; \
	  echo "$$bad"; exit 1; fi; \
	echo "check-layout: only src/lua_*.c and binding.h include Lua headers"

# The spec suite against a build with AddressSanitizer and UBSan.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS=suppressions=.ci/lsan.supp \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  $(BUSTED) --cpath="build-asan/?.so"
	$(MAKE) asan-extra

# C hosts (examples/embed, tests/*.c) include the public header alone: -I src
# is the only project path they see; they link libtensorslow.a, Lua and BLAS.
HOST_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) $(LUA_CFLAGS) -I src -pthread
HOST_LIBS  := $(STATIC) $(LUA_LIBS) $(LIBS)
HOST_ENV   := LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;'
HOST_TESTS := $(basename $(notdir $(wildcard tests/*.c)))
# C++ hosts (tests/*.cpp): Debian's Lua (built as C) through lua.hpp.
HOST_CXXFLAGS := -std=c++17 $(WARN) $(CFLAGS) $(LUA_CFLAGS) -I src -I $(BUILD)/tests -pthread
HOST_CXX_TESTS := $(basename $(notdir $(wildcard tests/*.cpp)))

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

# The C++ wrapper pattern in tensorslow.h's comment, cut out for tests/cxx_host.cpp.
$(BUILD)/tests/header_cxx.inc: src/tensorslow.h
	@mkdir -p $(dir $@)
	sed -n '/^ \*   struct Job/,/^ \* (tests\/cxx_host.cpp/s/^ \*   //p' $< > $@

$(BUILD)/tests/%: tests/%.cpp $(BUILD)/tests/header_cxx.inc src/tensorslow.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CXX) $(HOST_CXXFLAGS) $< -o $@ $(LDFLAGS) $(HOST_LIBS)

embed-test: $(BUILD)/embed/host $(BUILD)/tests/header_example
	echo '#include "tensorslow.h"' | $(CC) -std=c99 -pedantic $(WARN) -fsyntax-only -I src -x c -
	if command -v $(CXX) >/dev/null; then echo '#include "tensorslow.h"' | \
	  $(CXX) -std=c++11 $(WARN) -fsyntax-only -I src -x c++ -; fi
	$(BUILD)/embed/host > $(BUILD)/embed/out.txt
	diff -u examples/embed/expected.txt $(BUILD)/embed/out.txt
	$(HOST_ENV) $(BUILD)/tests/header_example > $(BUILD)/tests/header_example.txt
	echo "1.5 3.5 3.5 7.5" | diff -u - $(BUILD)/tests/header_example.txt
	@echo "embed-test: ok"

host-test: $(HOST_TESTS:%=$(BUILD)/tests/%) $(HOST_CXX_TESTS:%=$(BUILD)/tests/%)
	@for t in $(HOST_TESTS) $(HOST_CXX_TESTS); do echo "== $$t"; $(HOST_ENV) $(HOST_RUN) $(BUILD)/tests/$$t || exit 1; done

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

# The Lua side of an installation, shared by install and install-rock.
define install-lua-module
	install -d $(DESTDIR)$(LUA_CMOD)/tensorslow $(DESTDIR)$(LUA_LMOD)/tensorslow
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_CMOD)/tensorslow/core.so
	install -m 644 lua/tensorslow/*.lua $(DESTDIR)$(LUA_LMOD)/tensorslow/
	install -d $(DESTDIR)$(LUA_CMOD)/tensorslow/lua
	rm -f $(DESTDIR)$(LUA_CMOD)/tensorslow/lua/*.luac
	install -m 644 $(dir $(BYTECODE))*.luac $(DESTDIR)$(LUA_CMOD)/tensorslow/lua/
endef

install: all
	$(install-lua-module)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 644 src/tensorslow.h $(DESTDIR)$(INCDIR)/

# What luarocks installs (module and Lua files into the rock's tree, whose
# directories the rockspec passes as LUA_CMOD and LUA_LMOD).
install-rock: all
	$(install-lua-module)

lua-dirs:
	@echo "LUA_CMOD=$(LUA_CMOD)"; echo "LUA_LMOD=$(LUA_LMOD)"

# Lua code run with LUA_PATH/LUA_CPATH unset, so package.path and package.cpath
# are lua5.4's defaults: under(p) keeps p's absolute templates with DEST in
# front, so a module is found under DEST only where lua5.4 itself would look
# after a real installation (no path of ours is written in).
LUA_NO_ENV  := env -u LUA_PATH -u LUA_PATH_5_4 -u LUA_CPATH -u LUA_CPATH_5_4
LUA_UNDER   := local D = os.getenv("DEST"); local function under(p) local t = {}; \
  for s in p:gmatch("[^;]+") do if s:sub(1, 1) == "/" then table.insert(t, D .. s) end end; \
  return table.concat(t, ";") end;
LUA_LOAD_CHECK := $(LUA_UNDER) package.path, package.cpath = under(package.path), under(package.cpath); \
  local ts = require "tensorslow"; assert((ts.tensor{1, 2} * 2):get(2) == 4); \
  local c = package.searchpath("tensorslow.core", package.cpath); \
  local l = package.searchpath("tensorslow", package.path); \
  assert(c and c:sub(1, D:len()) == D and l and l:sub(1, D:len()) == D, "not loaded from " .. D); \
  local cl = package.searchpath("tensorslow.clip", package.path); \
  local bc = c:match("^(.*/)") .. "lua/clip-" .. require("tensorslow.core").source_hash(cl) .. ".luac"; \
  assert(io.open(bc, "rb"), "no bytecode installed: " .. bc):close(); \
  print("install-test: " .. c:sub(D:len() + 1) .. " and " .. l:sub(D:len() + 1) .. \
    " found by the default package.cpath and package.path of $(LUA)")
LUA_DIRS_CHECK := local p, c, l = os.getenv("P"), os.getenv("CMOD"), os.getenv("LMOD"); \
  local function has(s, t) return (";" .. s .. ";"):find(";" .. t .. ";", 1, true) end; \
  assert(has(package.cpath, c .. "/?.so"), c .. " is not in the default package.cpath " .. package.cpath); \
  assert(has(package.path, l .. "/?.lua"), l .. " is not in the default package.path " .. package.path); \
  print("install-test: PREFIX=" .. p .. " installs into " .. c .. " and " .. l .. ", searched by $(LUA)")

# make install with the default PREFIX into a scratch DESTDIR; the header's
# example built against what was installed alone (no project path); the
# module loaded from there through lua5.4's default search templates; and for
# PREFIX /usr/local and /usr, the directories make install uses by default are
# ones lua5.4's default package.cpath/package.path cover (nothing installed there).
install-test: $(BUILD)/tests/header_example.c
	rm -rf $(BUILD)/dest
	$(MAKE) install DESTDIR=$(CURDIR)/$(BUILD)/dest PREFIX=/usr/local
	D=$(CURDIR)/$(BUILD)/dest; d=$$D/usr/local; \
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) $(LUA_CFLAGS) -I$$d/include \
	  $< -o $(BUILD)/dest/header_example $(LDFLAGS) -L$$d/lib -ltensorslow $(LUA_LIBS) $(LIBS) && \
	path=$$(DEST=$$D $(LUA_NO_ENV) $(LUA) -e '$(LUA_UNDER) io.write(under(package.path))') && \
	$(LUA_NO_ENV) LUA_PATH="$$path" $(BUILD)/dest/header_example | grep -qx "1.5 3.5 3.5 7.5" && \
	DEST=$$D $(LUA_NO_ENV) $(LUA) -e '$(LUA_LOAD_CHECK)'
	P=/usr/local CMOD=$(call lua_cmod,/usr/local) LMOD=$(call lua_lmod,/usr/local) \
	  $(LUA_NO_ENV) $(LUA) -e '$(LUA_DIRS_CHECK)'
	P=/usr CMOD=$(call lua_cmod,/usr) LMOD=$(call lua_lmod,/usr) \
	  $(LUA_NO_ENV) $(LUA) -e '$(LUA_DIRS_CHECK)'
	@echo "install-test: ok"

clean:
	rm -rf build build-asan build-tsan

# Areas with their own build pieces (mk/*.mk: the ONNX and MPI modules, ...)
# extend these double-colon hooks and add prerequisites to all and PKGS; each
# fragment says what it adds in its own header.
.PHONY: test-extra asan-extra
test-extra::
asan-extra::
-include $(sort $(wildcard mk/*.mk))

# Benchmarks side by side with NumPy and PyTorch (installs them if missing).
build/bench_gemm: bench/gemm.c
	$(CC) -O2 $(BLAS_CFLAGS) $< -o $@ $(BLAS_LIBS)

# The batch-1 calls from a C host through lua_pcall (issue 19), linked as tests/*.c are.
build/bench_host: bench/host_bench.c src/tensorslow.h $(STATIC)
	$(CC) $(HOST_CFLAGS) $< -o $@ $(LDFLAGS) $(HOST_LIBS)

bench: deps
	$(MAKE) EXTRA_PKGS="python3-numpy python3-torch dataset-fashion-mnist" deps
	$(MAKE) all build/bench_gemm build/bench_host
	$(LUA) bench/run.lua

# oneDNN (Debian libdnnl-dev, PyTorch's CPU convolution library) at bench/conv.lua's shapes and
# keys, for issue 14's comparison (bench/DNNL.md); not part of `make bench`, not linked with
# tensorslow. ARGS: keep only keys containing it; REPS and TS_THREADS as for bench/conv.lua.
bench-dnnl:
	$(MAKE) EXTRA_PKGS="libdnnl-dev" deps
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -O2 -g -fopenmp $(WARN) bench/dnnl_conv.c -o $(BUILD)/dnnl_conv -ldnnl -lm
	$(BUILD)/dnnl_conv $(ARGS)
