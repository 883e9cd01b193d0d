"""Peers of bench/ts_bench.lua: NumPy and PyTorch doing the same work.
Prints "<peer>:<key> seconds" lines, median of REPS runs after a warm-up."""
import os, sys
import numpy as np
import torch

from peer_common import median, emit

only = sys.argv[1] if len(sys.argv) > 1 else None
torch.set_num_threads(int(os.environ.get("TS_THREADS", "2")))


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
    only_n = int(os.environ.get("GEMM_N", "0"))
    for n in (only_n,) if only_n else (256, 512, 1024, 2048):
        for dt in ("float32", "float64"):
            a = np.full((n, n), 0.25, dtype=dt)
            k = {256: 16, 512: 4}.get(n, 1)  # calls per timed repetition, every side

            def calls(f):
                def g():
                    for _ in range(k):
                        f()
                return median(g, 5) / k
            emit("numpy", f"gemm_{dt}_{n}", calls(lambda: a @ a))
            ta = torch.from_numpy(a)
            emit("torch", f"gemm_{dt}_{n}", calls(lambda: ta @ ta))

if want("elementwise"):
    n = 1 << 20
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    z = rng.standard_normal(n, dtype=np.float32)
    # each timed repetition is 10 calls (steady state, as tensorslow's side)
    def ten(f):
        def g():
            for _ in range(10):
                f()
        return median(g) / 10
    emit("numpy", "ew_exp_mul_add", ten(lambda: np.exp(x) * y + z))
    tx, ty, tz = (torch.from_numpy(a) for a in (x, y, z))
    emit("torch", "ew_exp_mul_add", ten(lambda: torch.exp(tx) * ty + tz))
    s = x.reshape(1024, 1024)

    def np_softmax():
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    emit("numpy", "ew_softmax", ten(np_softmax))
    ts_ = torch.from_numpy(s)
    emit("torch", "ew_softmax", ten(lambda: torch.softmax(ts_, dim=1)))


def load_mlp_fixture():
    here = os.path.dirname(os.path.abspath(__file__))
    import json
    with open(os.path.join(here, "..", "spec", "fixtures", "tensorslow_mlp.json")) as f:
        return json.load(f)


if want("mlp"):
    fx = load_mlp_fixture()
    X = np.array(fx["X"], dtype=np.float64)
    C = np.array(fx["c"], dtype=np.float64)
    init = fx["initial"]
    lr, steps = fx["learning_rate"], fx["steps"]

    def np_mlp():
        Wh, bh = np.array(init["W_hidden"]), np.array(init["b_hidden"])
        Wo, bo = np.array(init["W_output"]), np.array(init["b_output"])
        for _ in range(steps):
            H = 1 / (1 + np.exp(-(X @ Wh + bh)))
            A = H @ Wo + bo
            E = np.exp(A - A.max(axis=1, keepdims=True))
            P = E / E.sum(axis=1, keepdims=True)
            J = -np.sum(C * np.log(P))
            dA = P - C
            dWo, dbo = H.T @ dA, dA.sum(axis=0)
            dH = dA @ Wo.T
            dZ = dH * H * (1 - H)
            dWh, dbh = X.T @ dZ, dZ.sum(axis=0)
            Wh -= lr * dWh; bh -= lr * dbh; Wo -= lr * dWo; bo -= lr * dbo
        return J
    emit("numpy", "mlp_1000_steps", median(np_mlp, 5))

    def torch_mlp():
        Xt, Ct = torch.from_numpy(X), torch.from_numpy(C)
        params = [torch.tensor(init[k], dtype=torch.float64, requires_grad=True)
                  for k in ("W_hidden", "b_hidden", "W_output", "b_output")]
        opt = torch.optim.SGD(params, lr=lr)
        Wh, bh, Wo, bo = params
        for _ in range(steps):
            opt.zero_grad()
            P = torch.softmax(torch.sigmoid(Xt @ Wh + bh) @ Wo + bo, dim=1)
            J = -(Ct * torch.log(P)).sum()
            J.backward()
            opt.step()
    emit("torch", "mlp_1000_steps", median(torch_mlp, 5))

if want("batch1"):
    # bench/ts_bench.lua's batch-1 MLP: 784-256-10 float32, relu, one row per call
    def pattern(r, c, k):
        i = np.arange(1, r + 1)[:, None]
        j = np.arange(1, c + 1)[None, :]
        return (((i * 7 + j * 13 + k) % 17 - 8) / 64).astype(np.float32)
    W1, b1, W2, b2, x = pattern(784, 256, 1), pattern(1, 256, 2), pattern(256, 10, 3), pattern(1, 10, 4), pattern(1, 784, 5)
    K = 2000
    out = np.empty((1, 10), np.float32)

    def np_calls():
        for _ in range(K):
            np.add(np.maximum(x @ W1 + b1, 0) @ W2, b2, out=out)
    emit("numpy", "batch1_mlp", median(np_calls) / K)
    tW1, tb1, tW2, tb2, tx = (torch.from_numpy(a) for a in (W1, b1, W2, b2, x))
    tout = torch.empty(1, 10)

    def torch_calls():
        with torch.no_grad():
            for _ in range(K):
                torch.add(torch.relu(tx @ tW1 + tb1) @ tW2, tb2, out=tout)
    emit("torch", "batch1_mlp", median(torch_calls) / K)
