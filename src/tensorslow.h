/* tensorslow: computational graphs and automatic differentiation for Lua 5.4.
 *
 * Public C API for programs that embed Lua. Every function here works on a
 * lua_State; the library keeps no writable global state, so any number of
 * states may use it at once, one thread each.
 *
 * Example: a host linking libtensorslow.a statically hands a C array to a
 * Lua model without copying it and reads the answer through a data pointer.
 * Work that can raise runs under lua_pcall, as lua.c's own main does.
 *
 *   #include <stdio.h>
 *   #include <lauxlib.h>
 *   #include <lua.h>
 *   #include <lualib.h>
 *   #include "tensorslow.h"
 *
 *   static const char model[] =
 *       "local ts = require 'tensorslow'\n"
 *       "local W = ts.tensor({{1, 1}, {0, 1}})\n"
 *       "return function(x) return ts.matmul(x, W) + 0.5 end\n";
 *
 *   static int run(lua_State *L) {
 *     double *x = lua_touserdata(L, 1);
 *     luaL_openlibs(L);
 *     luaL_requiref(L, "tensorslow.core", luaopen_tensorslow_core, 0);
 *     lua_pop(L, 1);
 *     if (luaL_dostring(L, model) != LUA_OK) return lua_error(L);
 *     int64_t shape[2] = {2, 2};
 *     ts_pushtensor(L, TS_FLOAT64, 2, shape, x, NULL, NULL); // no copy
 *     lua_call(L, 1, 1);
 *     const ts_TensorView *y = ts_checktensor(L, -1);
 *     const double *v = y->data;
 *     printf("%g %g %g %g\n", v[0], v[1], v[2], v[3]);  // 1.5 3.5 3.5 7.5
 *     return 0;
 *   }
 *
 *   int main(void) {
 *     double x[4] = {1, 2, 3, 4};  // a batch of two rows, owned by the host
 *     lua_State *L = luaL_newstate();
 *     if (!L) return 1;
 *     lua_pushcfunction(L, run);
 *     lua_pushlightuserdata(L, x);
 *     int rc = lua_pcall(L, 1, 0, 0);
 *     if (rc != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
 *     lua_close(L);
 *     return rc != LUA_OK;
 *   }
 *
 * Build (the header is the only project file the host includes):
 *   cc host.c -I src build/libtensorslow.a $(pkg-config --cflags --libs lua5.4)
 *      -lopenblas -lcjson -lz -lm -lpthread
 * Run with the Lua part on the path, e.g. LUA_PATH='lua/?.lua;lua/?/init.lua;;'
 * (nothing to set after `make install`). libtensorslow.a exports the TS_API
 * names below and nothing else (make check-symbols), so a host's own names
 * never clash with tensorslow's internals.
 *
 * The contract with the host:
 *
 * Errors are longjmps. Every function here but ts_totensor may raise a Lua
 * error, as may nearly every Lua API call (any allocation can fail or run a
 * finaliser). With Lua built as C, as distributions ship it, an error is a
 * longjmp to the nearest lua_pcall that skips every frame in between: call
 * these from a function run by lua_pcall (the example's run) and hold nothing
 * there that needs cleaning up, no malloc'd pointer, no lock and, in C++, no
 * object with a destructor and no call that can throw. A C++ host keeps its
 * objects outside the protected call and turns a failed call into an
 * exception itself:
 *
 *   struct Job { const float *x; int64_t n; float *y; };  // plain data only
 *   static int predict(lua_State *L) {   // raises, never throws
 *     Job *j = static_cast<Job *>(lua_touserdata(L, 1));
 *     lua_getglobal(L, "predict");
 *     ts_pushtensor(L, TS_FLOAT32, 1, &j->n, (void *)j->x, NULL, NULL);
 *     lua_call(L, 1, 1);
 *     const ts_TensorView *y = ts_checktensor_dtype(L, -1, TS_FLOAT32, 1);
 *     if (y->numel != j->n) return luaL_error(L, "predict: wrong size");
 *     memcpy(j->y, y->data, sizeof(float) * (size_t)j->n);
 *     return 0;
 *   }
 *   std::vector<float> run(lua_State *L, const std::vector<float> &x) {
 *     std::vector<float> y(x.size());   // destructors: outside the pcall
 *     Job j = {x.data(), (int64_t)x.size(), y.data()};
 *     lua_pushcfunction(L, predict);
 *     lua_pushlightuserdata(L, &j);
 *     if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
 *       const char *m = lua_tostring(L, -1);
 *       std::string msg = m ? m : "(error object is not a string)";
 *       lua_pop(L, 1);
 *       throw std::runtime_error(msg);
 *     }
 *     return y;
 *   }
 *
 * (tests/cxx_host.cpp builds and runs this.) Lua compiled as C++, where
 * errors are C++ exceptions, is not what make test covers: tensorslow calls
 * the Lua API by its C names, so it links only with a Lua whose API keeps C
 * linkage (LUA_API defined as extern "C" in luaconf.h), and the exceptions
 * then unwind through tensorslow's C frames, which need unwind tables (GCC's
 * default on x86-64; elsewhere add -fexceptions to CFLAGS). Built that way
 * from Lua 5.4.6 by hand, the host tests of tests/ passed. What a compute
 * (ts.Operation) raises reaches the host's lua_pcall as it was raised: a
 * string whole, prefixed "op 'name' failed: ", any other error object (a
 * table) unchanged.
 *
 * Release callbacks (ts_pushtensor) run on the thread using the state at
 * that moment, inside the call that triggers them: a collection step, which
 * any allocation in that state may take (any lua_* or ts_* call, any Lua
 * code), lua_gc, or lua_close at the latest. Never on another thread (not on
 * tensorslow's workers), never twice, and never while a reshape view of the
 * tensor lives: a script calling the tensor's __gc by hand makes it and its
 * views unusable ("tensor has been freed") but the release waits for the
 * last view to be collected. A release runs inside the collector: it should
 * give the buffer back and not use the state.
 *
 * Data. The host may read and write a live tensor's data (ts_TensorView.data)
 * between Lua calls; dtype, ndim and shape are read-only. t:reshape views
 * share their base's memory, a ts_pushtensor buffer included: a write through
 * one is seen through all, and Lua writes into host buffers too (t:set, or
 * sess:run(fetch, feed, {out = t})). Graph constants and variables copy their
 * value when made or assigned; sess:run reads a feed during the run only and
 * returns fresh tensors (or the out= ones); apart from views, nothing keeps
 * the data pointer after the call that used it.
 *
 * Threads. Any number of states, one thread each. ts.set_num_threads(n)
 * (default: the number of cores) is per state: how many threads that
 * state's runs split large kernels, products and convolutions over; other
 * states keep theirs. OpenBLAS, whose thread count is process-wide, runs
 * single-threaded: a state sets it to 1 when it first loads it and splits
 * each large product over its own threads, one single-threaded BLAS call
 * per part. A host that raises OpenBLAS's count later
 * (openblas_set_num_threads) makes those calls start OpenBLAS threads too;
 * leave it at 1. A state's workers start on its first split job; after each
 * job they spin for up to 0.2 ms before sleeping (so a host calling a small
 * model every few microseconds finds them awake), which shows as CPU time
 * while the host is otherwise idle; ts.set_num_threads(1) starts none.
 */
#ifndef TENSORSLOW_H
#define TENSORSLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TS_API marks what the library exports. The objects are compiled with
 * hidden visibility and libtensorslow.a is one object whose other symbols
 * are made local, so these are its only global names; the Lua module
 * core.so exports luaopen_tensorslow_core alone. On Windows define
 * TS_BUILD_DLL when building a DLL and TS_DLL when using one. */
#if defined(_WIN32) && defined(TS_BUILD_DLL)
#define TS_API __declspec(dllexport)
#elif defined(_WIN32) && defined(TS_DLL)
#define TS_API __declspec(dllimport)
#elif defined(__GNUC__)
#define TS_API __attribute__((visibility("default")))
#else
#define TS_API
#endif

struct lua_State;

typedef enum ts_dtype {
  TS_FLOAT32 = 0,
  TS_FLOAT64 = 1,
  TS_INT64 = 2,
  TS_UINT8 = 3,
  TS_NDTYPES = 4
} ts_dtype;

/* Same contract as lua_Alloc: nsize == 0 frees ptr and returns NULL. */
typedef void *(*ts_Alloc)(void *ud, void *ptr, size_t osize, size_t nsize);

/* Called exactly once when a tensor made over a host buffer is collected,
 * and not before its last reshape view is (see "Release callbacks" above). */
typedef void (*ts_Release)(void *ud, void *data);

/* A tensor as the host sees it: contiguous C-order data. */
typedef struct ts_TensorView {
  ts_dtype dtype;
  int ndim;
  const int64_t *shape; /* ndim entries, valid while the tensor lives */
  int64_t numel;
  void *data;
} ts_TensorView;

/* Opens the module "tensorslow.core": require finds it in core.so, or a
 * static host registers it with luaL_requiref(L, "tensorslow.core",
 * luaopen_tensorslow_core, 0). require "tensorslow" then loads the Lua part
 * (the files of lua/tensorslow) through package.path. */
TS_API int luaopen_tensorslow_core(struct lua_State *L);

/* Pushes a tensor over data without copying it (shape is copied). The host
 * keeps data valid until release(ud, data) is called: exactly once, when the
 * tensor and its reshape views are collected or at lua_close (release may be
 * NULL: then the data must outlive the state or the tensor and its views).
 * data must be aligned for its dtype; Lua code may write into it (t:set).
 * Raises a Lua error on a bad dtype, shape or alignment or when memory runs
 * out; release is then not called and data stays the host's. */
TS_API void ts_pushtensor(struct lua_State *L, ts_dtype dtype, int ndim,
                          const int64_t *shape, void *data, ts_Release release,
                          void *ud);
/* Pushes a new tensor holding a copy of data (NULL: zero-filled); raises
 * like ts_pushtensor. */
TS_API void ts_pushtensorcopy(struct lua_State *L, ts_dtype dtype, int ndim,
                              const int64_t *shape, const void *data);
/* Returns a view of the tensor at idx, or NULL if it is not a tensor or was
 * freed (its __gc called by hand, or a view of such a tensor); never raises.
 * The view and its data stay valid while the tensor is reachable from Lua;
 * the data may be written (see "Data" above). */
TS_API const ts_TensorView *ts_totensor(struct lua_State *L, int idx);
/* Like ts_totensor but raises a Lua argument error if it is not a tensor
 * ("tensor has been freed" for a freed one). idx may be negative (relative
 * to the top): the message gives its absolute position, "bad argument #3
 * to 'f' (tensorslow.Tensor expected, got number)", and leaves out "to 'f'"
 * when the running function has no name (one called by lua_pcall from C). */
TS_API const ts_TensorView *ts_checktensor(struct lua_State *L, int idx);
/* Like ts_checktensor, and the tensor must also have this dtype and, unless
 * ndim is -1, this rank: "bad argument #1 to 'f' (float32 tensor of rank 2
 * expected, got float64 tensor of rank 1)". */
TS_API const ts_TensorView *ts_checktensor_dtype(struct lua_State *L, int idx,
                                                 ts_dtype dtype, int ndim);

/* Sets where the memory of tensors, graphs and plans made from now on comes
 * from: f (a host allocator; tensor data then lives outside the Lua heap) or,
 * with f NULL, the state's own allocator (lua_getallocf), the default. Each
 * object frees through the allocator it was made with, so f and ud must stay
 * valid until lua_close. Call it before luaopen_tensorslow_core to cover the
 * default graph too. A failed allocation first empties the state's cache of
 * freed tensor blocks (which stay in f's counts) and tries once more; a
 * tensor's block (128 KB and more) then also waits for two full collections
 * (lua_gc, finalisers included), as Lua's own allocations get an emergency
 * collection; then it raises "not enough memory ...". A session run's buffers
 * do not collect: after that error, collect and run again. */
TS_API void ts_setallocator(struct lua_State *L, ts_Alloc f, void *ud);

/* The peak bytes a run of sess:run(fetch, feed) needs, before running it, as
 * sess:plan_memory(fetch, feed_shapes) gives them (sess, fetch and
 * feed_shapes are stack indices; feed_shapes 0 for none, else a table
 * {[placeholder] = {dims...} or a tensor}): the plan's slot buffers (from
 * liveness), the kernels' work area (conv's columns), the results, each with
 * its allocation header, as the allocator sees them; a fused pass's
 * intermediates are on the workers' stacks, not counted. The plan is built
 * and cached. Raises like sess:plan_memory (e.g. a step whose shape depends
 * on values). */
TS_API size_t ts_plan_memory(struct lua_State *L, int sess, int fetch, int feed_shapes);

/* A memory budget for runs: left(ud) says how many bytes the host's
 * allocator has left. A run fed new shapes whose plan needs more than that
 * (what it has not allocated yet, results included) fails before computing
 * anything: "not enough memory for this run: its plan needs N bytes more
 * (...), the memory budget has M left". left NULL removes it. */
TS_API void ts_setbudget(struct lua_State *L, size_t (*left)(void *ud), void *ud);

#ifdef __cplusplus
}
#endif
#endif
