-- Lua opens C modules with RTLD_LOCAL: before MPI_Init, libmpi's symbols are not in the
-- global scope (where the plugins Open MPI dlopens look for them); tensorslow.mpi
-- reopens libmpi with RTLD_GLOBAL first (TS_MPI_NO_GLOBAL=1 skips that, to show it),
-- then the plugins load: MPI reports its version and a collective works.
require "tensorslow"
local C = require "tensorslow.mpi_core"
print("global before init: " .. tostring(C.libmpi_global()))
print("global at MPI_Init: " .. tostring(C.init()))
print("global after init: " .. tostring(C.libmpi_global()))
print("library: " .. C.library_version():match("^[^,]*"))
local mpi = require "tensorslow.mpi"
local ts = require "tensorslow"
print(("rank %d of %d: allreduce %s"):format(mpi.rank(), mpi.size(),
  table.concat(mpi.allreduce(ts.tensor({ mpi.rank() + 1 }, "int64")):totable(), ",")))
