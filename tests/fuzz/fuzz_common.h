/* Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c, built by `make fuzz`).
 *
 * The loaders take file names, so each input is written to a memfd and read
 * back through /proc/self/fd/N: the real open/fstat/read path runs, and
 * nothing touches the disk. Lua-driven targets get a lua_State whose
 * allocator refuses to hold more than FUZZ_LUA_MEM bytes, so a script asking
 * for a huge tensor meets a clean "not enough memory" error, not libFuzzer's
 * malloc limit. */
#ifndef TS_FUZZ_COMMON_H
#define TS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef FUZZ_LUA_MEM
#define FUZZ_LUA_MEM ((size_t)256 << 20)
#endif

/* The input as a file: returns its /proc path (a static buffer per target). */
static inline const char *fuzz_file(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("fuzz-input", 0);
    if (fd < 0) {
      perror("memfd_create");
      abort();
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
    perror("writing the fuzz input");
    abort();
  }
  return path;
}

#ifdef FUZZ_WITH_LUA
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_tensorslow_core(lua_State *L);

typedef struct fuzz_mem {
  size_t used;
} fuzz_mem;

/* lua_Alloc with a ceiling. */
static inline void *fuzz_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  fuzz_mem *m = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    m->used -= old;
    return NULL;
  }
  if (nsize > old && nsize - old > FUZZ_LUA_MEM - m->used) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) m->used = m->used - old + nsize;
  return p;
}

/* A state with the standard libraries, tensorslow from the source tree
 * (TS_LUA_DIR) and its C module linked in, then `setup` run as a chunk.
 * Aborts on any failure: the harness itself is broken then. */
static inline lua_State *fuzz_lua(const char *setup) {
  static fuzz_mem mem;
  lua_State *L = lua_newstate(fuzz_alloc, &mem);
  if (!L) abort();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, TS_LUA_DIR "/?.lua;" TS_LUA_DIR "/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pushstring(L, "");
  lua_setfield(L, -2, "cpath");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_tensorslow_core);
  lua_setfield(L, -2, "tensorslow.core");
  lua_pop(L, 2);
  if (luaL_dostring(L, setup) != LUA_OK) {
    fprintf(stderr, "fuzz setup failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  return L;
}
#endif

#endif
