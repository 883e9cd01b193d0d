"""PyTorch's side of bench/growth.lua ("How cost grows", bench/RESULTS.md).
Prints "torch:<key> value" lines with the keys of bench/growth.lua.
  growth_peer.py mlp     the same MLP training step (784-H-10 float32, relu, softmax
                         cross-entropy, SGD) against batch size and hidden width
  growth_peer.py graph   PyTorch's graph is built while computing (autograd records each op):
                         "build" is the eager forward of the same chain / random DAG with
                         requires_grad (recording included), "run" the same forward under
                         no_grad, "grad" torch.autograd.grad through the recorded graph;
                         PyTorch has no planning step. Seconds per forward node.
  growth_peer.py memory  peak RSS of training steps of the MLP and the CNN (bench/cnn_peer.py's)
"""
import os, sys, time, resource
import torch
from peer_common import median, emit

what = sys.argv[1] if len(sys.argv) > 1 else "mlp"
torch.set_num_threads(int(os.environ.get("TS_THREADS", "2")))


def mlp_step(batch, hidden):
    torch.manual_seed(1)
    W1 = (torch.randn(784, hidden) * 0.05).requires_grad_()
    b1 = torch.zeros(hidden, requires_grad=True)
    W2 = (torch.randn(hidden, 10) * 0.05).requires_grad_()
    b2 = torch.zeros(10, requires_grad=True)
    params = [W1, b1, W2, b2]
    opt = torch.optim.SGD(params, lr=0.01)
    X = torch.rand(batch, 784)
    Y = torch.tensor([i % 10 for i in range(1, batch + 1)])

    def step():
        opt.zero_grad(set_to_none=True)
        logits = torch.relu(X @ W1 + b1) @ W2 + b2
        loss = torch.nn.functional.cross_entropy(logits, Y)
        loss.backward()
        opt.step()
    return step


if what == "mlp":
    def per_step(batch, hidden):
        f = mlp_step(batch, hidden)
        t0 = time.perf_counter()
        f()
        f()
        one = max((time.perf_counter() - t0) / 2, 1e-7)
        k = max(1, int(0.02 / one))

        def rep():
            for _ in range(k):
                f()
        return median(rep, 5) / k
    for b in (1, 8, 64, 512, 4096):
        emit("torch", f"growth_mlp_b{b}_h256", per_step(b, 256))
    for h in (16, 64, 256, 1024, 4096):
        emit("torch", f"growth_mlp_b64_h{h}", per_step(64, h))

if what == "graph":
    max_nodes = int(float(os.environ.get("GROWTH_MAX_NODES", "1e6")))

    def forward(kind, n, x):
        # the same graphs as growth.lua (same LCG), as eager scalar tensors
        if kind == "chain":
            one = torch.tensor(1.0, dtype=torch.float64)
            y = x
            for _ in range(n):
                y = y + one
            return y, n
        nodes = [x, torch.tensor(0.5, dtype=torch.float64)]
        seed = 12345
        ops = 0

        def rnd(m):
            nonlocal seed
            seed = (seed * 1103515245 + 12345) % 2147483648
            return seed % m + 1
        for i in range(1, n + 1):
            k = len(nodes)
            j = k - (rnd(8) - 1)
            a = nodes[j - 1] if j >= 1 else nodes[0]
            b = nodes[rnd(k) - 1]
            if i % 3 == 0:
                nodes.append(a * 0.5 + b * 0.25)
                ops += 3
            else:
                nodes.append(a + b * 0.5)
                ops += 2
        y = nodes[-1]
        for j in range(1, 16):
            y = y + nodes[-1 - j]
            ops += 1
        return y, ops

    def measure(kind, n):
        x = torch.tensor(0.001, dtype=torch.float64, requires_grad=True)
        t0 = time.perf_counter()
        y, ops = forward(kind, n, x)
        t_build = time.perf_counter() - t0
        with torch.no_grad():
            t0 = time.perf_counter()
            forward(kind, n, x)
            t_run = time.perf_counter() - t0
        t0 = time.perf_counter()
        torch.autograd.grad(y, [x])
        t_grad = time.perf_counter() - t0
        tag = f"growth_graph_{kind}_{n}"
        emit("torch", tag + "_ops", ops)
        emit("torch", tag + "_build_per_node", t_build / ops)
        emit("torch", tag + "_run_per_node", t_run / ops)
        emit("torch", tag + "_grad_per_node", t_grad / ops)

    for kind in ("chain", "dag"):
        n = 1000
        while n <= max_nodes:
            measure(kind, n)
            n *= 10

if what == "memory":
    model = sys.argv[2] if len(sys.argv) > 2 else "mlp"
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if model == "mlp":
        f = mlp_step(512, 1024)
    else:
        # bench/cnn_peer.py's network (examples/cnn_model.lua "bn"), Adam, batch 128, random data
        nn = torch.nn
        torch.manual_seed(1)
        net = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2, bias=False), nn.BatchNorm2d(32, eps=1e-3),
            nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2, bias=False), nn.BatchNorm2d(64, eps=1e-3),
            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(7 * 7 * 64, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        x = torch.rand(128, 1, 28, 28)
        y = torch.tensor([i % 10 for i in range(1, 129)])

        def f():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    for _ in range(5):
        f()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    emit("torch", f"growth_mem_{model}_peak_rss_bytes", peak)
