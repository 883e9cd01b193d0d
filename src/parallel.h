/* Splitting a loop over threads. Threads are started per call (no pool, no
 * state to keep), so only work large enough to pay ~20 us per thread is
 * split: see TSI_PAR_GRAIN. */
#ifndef TS_PARALLEL_H
#define TS_PARALLEL_H

#include <stdint.h>

/* Elements below which a loop runs on the calling thread alone. */
#define TSI_PAR_GRAIN ((int64_t)1 << 17)

typedef void (*tsi_range_fn)(void *arg, int64_t begin, int64_t end);

/* Calls fn(arg, begin, end) over [0, n) in up to nthreads contiguous chunks,
 * each a multiple of align elements (but the last); returns when all are done.
 * If a thread cannot be started its chunk runs on the caller. */
void tsi_parallel_for(int nthreads, int64_t n, int64_t align, tsi_range_fn fn, void *arg);

/* Calls fn over [0, n) in exactly min(parts, n) contiguous chunks of about
 * the same size, whatever n (the caller judged the work worth the threads). */
void tsi_parallel_split(int parts, int64_t n, tsi_range_fn fn, void *arg);

#endif
