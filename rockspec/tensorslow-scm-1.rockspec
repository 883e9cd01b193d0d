rockspec_format = "3.0"
package = "tensorslow"
version = "scm-1"
source = { url = "git+https://example.invalid/tensorslow.git" }
description = {
  summary = "Computational graphs and automatic differentiation for Lua 5.4, in C",
  detailed = [[
    Build graphs of operations, placeholders and variables with ordinary operators,
    compute them with a Session, and train variables with gradients and optimizers.
    Follows the TensorSlow tutorial library and TensorFlow 1.x graph mode.
  ]],
  license = "MIT",
}
dependencies = { "lua >= 5.4, < 5.5" }
external_dependencies = {
  OPENBLAS = { library = "openblas" },
  CJSON = { header = "cjson/cJSON.h", library = "cjson" },
  ZLIB = { header = "zlib.h", library = "z" },
}
-- Optional: Open MPI (Debian openmpi-bin and libopenmpi-dev; mpicc) for tensorslow.mpi,
-- whose module mpi_core.so the Makefile builds and installs only when mpicc is found.
-- Built by the Makefile (every src/*.c, every lua/tensorslow/*.lua through its
-- globs): no file list here to keep in step. luarocks passes the rock tree's
-- directories as LUA_CMOD/LUA_LMOD to `make install-rock`.
build = {
  type = "make",
  build_target = "all",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_CFLAGS = "-I$(LUA_INCDIR)",
    LUA = "$(LUA)",
  },
  install_target = "install-rock",
  install_variables = {
    LUA_CMOD = "$(LIBDIR)",
    LUA_LMOD = "$(LUADIR)",
  },
}
