# Issue 18 (speed): the STREAM-style triad bench/run.lua measures the element-wise rows against.
build/bench_triad: bench/triad.c
	@mkdir -p build
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O3 $(WARN) bench/triad.c -o $@ -pthread

bench: build/bench_triad
