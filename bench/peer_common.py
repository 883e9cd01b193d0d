"""What the Python peers of the benchmarks share (each script imports it from its own
directory): the median timing every side uses, the "<peer>:<key> value" lines bench/run.lua
collects, and Fashion-MNIST's IDX files."""
import gzip, os, time

REPS = int(os.environ.get("REPS", "7"))
FASHION_DIR = os.environ.get("FASHION_DIR", "/usr/share/datasets/fashion-mnist")


def median(f, reps=REPS):
    """Runs f once as a warm-up, then reps timed times; the median wall-clock seconds."""
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


def idx(name, offset):
    """The bytes of a gzipped IDX file of FASHION_DIR after its header (offset bytes)."""
    import numpy as np
    with gzip.open(os.path.join(FASHION_DIR, name)) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
