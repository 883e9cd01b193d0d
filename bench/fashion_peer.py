"""Fashion-MNIST MLP, peer side: `fashion_peer.py numpy|torch`. Same network, loss, SGD lr 0.1,
batch 128, float32, batches in file order as bench/fashion.lua. Prints "<peer>:fashion_epoch s"
(median of EPOCHS epochs after a warm-up) and "<peer>:fashion_rss_mib MiB" (peak RSS)."""
import os, resource, sys
import numpy as np

peer = sys.argv[1]
EPOCHS = int(os.environ.get("EPOCHS", "5"))
from peer_common import idx, median

X = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784)
Y = idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
rng = np.random.default_rng(1)


def glorot(n, m):
    lim = np.sqrt(6 / (n + m))
    return rng.uniform(-lim, lim, (n, m)).astype(np.float32)


if peer == "numpy":
    W = [glorot(784, 256), glorot(256, 256), glorot(256, 10)]
    b = [np.zeros(256, np.float32), np.zeros(256, np.float32), np.zeros(10, np.float32)]

    def epoch():
        for i in range(0, len(X), 128):
            x = X[i:i + 128].astype(np.float32) * np.float32(1 / 255)
            y = Y[i:i + 128]
            n = len(x)
            z1 = x @ W[0] + b[0]; h1 = np.maximum(z1, 0)
            z2 = h1 @ W[1] + b[1]; h2 = np.maximum(z2, 0)
            lo = h2 @ W[2] + b[2]
            e = np.exp(lo - lo.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            loss = -np.log(p[np.arange(n), y]).mean()
            d3 = p; d3[np.arange(n), y] -= 1; d3 /= n
            g2 = d3 @ W[2].T; g2 *= z2 > 0
            g1 = g2 @ W[1].T; g1 *= z1 > 0
            for k, (a, dz) in enumerate(((x, g1), (h1, g2), (h2, d3))):
                W[k] -= np.float32(0.1) * (a.T @ dz)
                b[k] -= np.float32(0.1) * dz.sum(axis=0)
        return loss
else:
    import torch
    torch.set_num_threads(int(os.environ.get("TS_THREADS", "2")))
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    Xt, Yt = torch.from_numpy(X.copy()), torch.from_numpy(Y)
    lossf = torch.nn.CrossEntropyLoss()

    def epoch():
        for i in range(0, len(X), 128):
            x = Xt[i:i + 128].float() * (1 / 255)
            opt.zero_grad()
            loss = lossf(model(x), Yt[i:i + 128])
            loss.backward()
            opt.step()
        return loss

print(f"{peer}:fashion_epoch {median(epoch, EPOCHS):.6f}")
print(f"{peer}:fashion_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
