"""Peers of bench/ts_bench.lua: NumPy and PyTorch doing the same work.
Prints "<peer>:<key> seconds" lines, median of REPS runs after a warm-up."""
import os, sys, time
import numpy as np
import torch

REPS = int(os.environ.get("REPS", "7"))
only = sys.argv[1] if len(sys.argv) > 1 else None
torch.set_num_threads(int(os.environ.get("TS_THREADS", "2")))


def median(f, reps=REPS):
    f()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    t.sort()
    return t[(reps - 1) // 2]


def emit(peer, key, v):
    print(f"{peer}:{key} {v:.9g}", flush=True)


def want(name):
    return only is None or only in name


if want("overhead"):
    def np_chain():
        for _ in range(100):
            y = np.float64(0.0)
            one = np.float64(1.0)
            for _ in range(1000):
                y = y + one
    emit("numpy", "overhead_chain1000x100", median(np_chain))

    def torch_chain():
        one = torch.tensor(1.0, dtype=torch.float64)
        for _ in range(100):
            y = torch.tensor(0.0, dtype=torch.float64)
            for _ in range(1000):
                y = y + one
    emit("torch", "overhead_chain1000x100", median(torch_chain, 5))

if want("gemm"):
    for n in (256, 512, 1024, 2048):
        for dt in ("float32", "float64"):
            a = np.full((n, n), 0.25, dtype=dt)
            emit("numpy", f"gemm_{dt}_{n}", median(lambda: a @ a, 5))
            ta = torch.from_numpy(a)
            emit("torch", f"gemm_{dt}_{n}", median(lambda: ta @ ta, 5))
