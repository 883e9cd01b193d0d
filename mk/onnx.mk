# ONNX (issue 15): the C module tensorslow.onnx_pb (src/onnx/*.c, a protobuf <-> Lua-table
# converter built on protobuf-c; not part of core.so or libtensorslow.a) and the conformance
# runner against Debian's ONNX backend test data. Adds: PKGS, `all` builds the module,
# `make onnx-test` (also run by test-extra), install puts the module beside core.so.
# The parser is generated at build time by protoc-c from the onnx.proto libonnx-dev ships.
PKGS += protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata python3-onnx

ONNX_PROTO  ?= /usr/include/onnx/onnx.proto
ONNX_GEN    := $(BUILD)/gen
ONNX_MODULE := $(BUILD)/tensorslow/onnx_pb.so
ONNX_SRC    := $(wildcard src/onnx/*.c)
ONNX_OBJ    := $(ONNX_SRC:src/onnx/%.c=$(BUILD)/obj/onnx/%.o) $(BUILD)/obj/onnx/onnx.pb-c.o
ONNX_CFLAGS := $(filter-out -Isrc,$(ALL_CFLAGS)) -I$(ONNX_GEN)

.PHONY: onnx-test

all: $(ONNX_MODULE)

$(ONNX_GEN)/onnx.pb-c.c $(ONNX_GEN)/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(ONNX_GEN)
	$(Q)cp $(ONNX_PROTO) $(ONNX_GEN)/onnx.proto
	$(Q)cd $(ONNX_GEN) && protoc-c --c_out=. onnx.proto

$(BUILD)/obj/onnx/onnx.pb-c.o: $(ONNX_GEN)/onnx.pb-c.c $(ONNX_GEN)/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(ONNX_CFLAGS) -w -c $< -o $@

$(BUILD)/obj/onnx/%.o: src/onnx/%.c $(ONNX_GEN)/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(ONNX_CFLAGS) -c $< -o $@

$(BUILD)/onnx_pb.map: mk/onnx.mk
	@mkdir -p $(dir $@)
	$(Q)printf '{\n  global: luaopen_tensorslow_onnx_pb;\n  local: *;\n};\n' > $@

$(ONNX_MODULE): $(ONNX_OBJ) $(BUILD)/onnx_pb.map
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) -shared -o $@ $(ONNX_OBJ) -Wl,--version-script=$(BUILD)/onnx_pb.map \
	  $(LDFLAGS) -lprotobuf-c

# Every test of the ONNX backend test data (tools/onnx_test.lua; ARGS: a directory or name filter).
onnx-test: $(MODULE) $(ONNX_MODULE)
	$(Q)$(RUN_LUA) tools/onnx_test.lua $(ARGS)

test-extra:: onnx-test

install: install-onnx
install-rock: install-onnx
.PHONY: install-onnx
install-onnx: $(ONNX_MODULE)
	install -d $(DESTDIR)$(LUA_CMOD)/tensorslow
	install -m 755 $(ONNX_MODULE) $(DESTDIR)$(LUA_CMOD)/tensorslow/onnx_pb.so

# libFuzzer target of the ONNX loader (tests/fuzz/fuzz_onnx.c; DEVELOPERS.md, "Fuzzing"): the
# core and onnx_pb compiled with clang under ASan/UBSan; seeds in tests/fuzz/corpus/onnx/.
# make fuzz-onnx [FUZZ_TIME=s]; not in the Makefile's FUZZ_TARGETS (it needs protobuf-c).
.PHONY: fuzz-onnx
FUZZ_ONNX_OBJ := $(FUZZ_BUILD)/obj/onnx/onnx_pb.o $(FUZZ_BUILD)/obj/onnx/onnx.pb-c.o

$(FUZZ_BUILD)/obj/onnx/onnx_pb.o: src/onnx/onnx_pb.c $(ONNX_GEN)/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  $(LUA_CFLAGS) -I$(ONNX_GEN) -c $< -o $@

$(FUZZ_BUILD)/obj/onnx/onnx.pb-c.o: $(ONNX_GEN)/onnx.pb-c.c $(ONNX_GEN)/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -w $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -I$(ONNX_GEN) -c $< -o $@

$(FUZZ_BUILD)/fuzz_onnx: tests/fuzz/fuzz_onnx.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ) $(FUZZ_ONNX_OBJ)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -DTS_LUA_DIR='"$(CURDIR)/lua"' $(WARN) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer $(LUA_CFLAGS) -Isrc $< $(FUZZ_OBJ) $(FUZZ_ONNX_OBJ) -o $@ $(LUA_LIBS) $(LIBS) \
	  -lprotobuf-c

fuzz-onnx: $(FUZZ_BUILD)/fuzz_onnx
	@mkdir -p $(FUZZ_BUILD)/corpus/onnx $(FUZZ_BUILD)/artifacts/onnx
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_onnx $(FUZZ_ARGS) -detect_leaks=0 -max_len=4096 \
	  -artifact_prefix=$(FUZZ_BUILD)/artifacts/onnx/ $(FUZZ_BUILD)/corpus/onnx tests/fuzz/corpus/onnx

# make asan: the conformance run against its ASan/UBSan build (build-asan) as well (it decodes every model
# and tensor of the test data; a sanitizer report fails it).
asan-extra::
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS=suppressions=.ci/lsan.supp \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  $(LUA) -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path; package.cpath="build-asan/?.so;"..package.cpath' \
	  tools/onnx_test.lua
