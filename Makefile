# tensorslow: build, test and install.
#   make            the Lua module build/tensorslow/core.so and libtensorslow.a
#   make example    the main example (installs missing Debian packages first)
#   make test       lint + busted specs under lua5.4 + C host tests
#   make install    PREFIX/DESTDIR honoured; Debian's Lua 5.4 paths by default

LUA      ?= lua5.4
CC       ?= cc
PKGS     := lua5.4 liblua5.4-dev lua-busted lua-check libopenblas-dev zlib1g-dev libcjson-dev pkg-config python3-numpy gzip
LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS   := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS  := $(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN     += -Werror
endif
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden $(WARN) $(CFLAGS) \
              $(LUA_CFLAGS) $(BLAS_CFLAGS) -Isrc
LIBS     := $(BLAS_LIBS) -lcjson -lz -lm -lpthread

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

.PHONY: all deps test spec lint example examples install clean check-globals asan

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

example: deps
	$(MAKE) all
	$(LUA) -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path; package.cpath="$(BUILD)/?.so;"..package.cpath' examples/affine.lua

examples: example

# No writable static or global data in the objects (.data/.bss symbols).
check-globals: $(OBJ)
	@bad=$$(for o in $(OBJ); do objdump -t $$o | awk -v o=$$o '($$4 == ".data" || $$4 == ".bss") && $$NF !~ /^\./ {print o": "$$NF}'; done); \
	if [ -n "$$bad" ]; then echo "writable global or static data:"; echo "$$bad"; exit 1; fi; \
	echo "check-globals: no writable global data"

# The spec suite against a build with AddressSanitizer and UBSan.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=.ci/lsan.supp \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  $(BUSTED) --cpath="build-asan/?.so"

install: all
	install -d $(DESTDIR)$(LUA_CMOD)/tensorslow $(DESTDIR)$(LUA_LMOD)/tensorslow \
	  $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_CMOD)/tensorslow/core.so
	install -m 644 lua/tensorslow/*.lua $(DESTDIR)$(LUA_LMOD)/tensorslow/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 644 src/tensorslow.h $(DESTDIR)$(INCDIR)/

clean:
	rm -rf build build-asan build-tsan
