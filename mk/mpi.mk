# tensorslow.mpi (issue 16): the C module build/tensorslow/mpi_core.so from
# src/mpi/lua_mpi.c, linked with Open MPI (Debian openmpi-bin + libopenmpi-dev,
# which make deps installs); built by `make all` when mpicc is there (else
# skipped with a note: the rest of the library does not need it); installed by
# make install / install-rock. Its specs (spec/mpi_spec.lua) start
# `mpirun -np 2` on spec/mpi/*.lua, in make spec and make asan alike.
PKGS       += openmpi-bin libopenmpi-dev
MPICC      ?= mpicc
MPI_CFLAGS := $(shell $(MPICC) --showme:compile 2>/dev/null || pkg-config --cflags ompi 2>/dev/null)
MPI_LIBS   := $(shell $(MPICC) --showme:link 2>/dev/null || pkg-config --libs ompi 2>/dev/null)
MPI_MODULE := $(BUILD)/tensorslow/mpi_core.so

ifneq ($(strip $(MPI_LIBS)),)
all: $(MPI_MODULE)

$(MPI_MODULE): src/mpi/lua_mpi.c src/capi.h src/tensorslow.h mk/mpi.mk
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) -std=c11 -fPIC -shared $(WARN) $(CFLAGS) $(LUA_CFLAGS) $(MPI_CFLAGS) $< \
	  -o $@ $(LDFLAGS) $(MPI_LIBS) -ldl

# check-globals' rule for the module's own object (no writable global or static data).
MPI_OBJ := $(BUILD)/obj/mpi/lua_mpi.o
$(MPI_OBJ): src/mpi/lua_mpi.c src/capi.h src/tensorslow.h mk/mpi.mk
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) -std=c11 -fPIC $(WARN) $(CFLAGS) $(LUA_CFLAGS) $(MPI_CFLAGS) -c $< -o $@
.PHONY: check-globals-mpi
check-globals-mpi: $(MPI_OBJ)
	@bad=$$(objdump -t $(MPI_OBJ) | awk '{ sec = ""; for (i = 2; i < NF; i++) if ($$i ~ /^[.*]/) \
	    { sec = $$i; break } if (sec ~ /^\.(data|bss|tdata|tbss)/ && sec !~ /^\.data\.rel\.ro/ || \
	    sec == "*COM*") if ($$NF !~ /^\./) print $$NF" ("sec")" }'); \
	if [ -n "$$bad" ]; then echo "$(MPI_OBJ): writable global data:"; echo "$$bad"; exit 1; fi; \
	echo "check-globals-mpi: no writable global data in $(MPI_OBJ)"
test-extra:: check-globals-mpi

install: install-mpi
install-rock: install-mpi
.PHONY: install-mpi
install-mpi: $(MPI_MODULE)
	install -d $(DESTDIR)$(LUA_CMOD)/tensorslow
	install -m 755 $(MPI_MODULE) $(DESTDIR)$(LUA_CMOD)/tensorslow/mpi_core.so
else
all:
	@echo "mk/mpi.mk: mpicc not found: tensorslow.mpi not built (make deps installs Open MPI)"
endif
