"""PyTorch peer of bench/cnn.lua: the same network (examples/cnn_model.lua, "bn"), Adam 1e-3,
batch 128, float32, PyTorch's default memory format (NCHW), TS_THREADS threads. Prints
"torch:cnn_step", "torch:cnn_epoch" (469 x the median step) and "torch:cnn_rss_mib"."""
import os, resource, time
import numpy as np
import torch

torch.set_num_threads(int(os.environ.get("TS_THREADS", "2")))
STEPS = int(os.environ.get("STEPS", "30"))
from peer_common import idx

X = torch.from_numpy(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy())
Y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
torch.manual_seed(1)
nn = torch.nn
# momentum 0.1 in PyTorch's convention is 0.9 in TensorFlow's (the example's)
model = nn.Sequential(
    nn.Conv2d(1, 32, 5, padding=2, bias=False), nn.BatchNorm2d(32, eps=1e-3, momentum=0.1),
    nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 5, padding=2, bias=False), nn.BatchNorm2d(64, eps=1e-3, momentum=0.1),
    nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(7 * 7 * 64, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
opt = torch.optim.Adam(model.parameters(), 1e-3)
lossf = nn.CrossEntropyLoss()
model.train()
batches = [(X[i:i + 128].float() * (1 / 255), Y[i:i + 128]) for i in range(0, 20 * 128, 128)]


def step(k):
    x, y = batches[k % len(batches)]
    opt.zero_grad()
    loss = lossf(model(x), y)
    loss.backward()
    opt.step()


for k in range(3):
    step(k)
t = []
for k in range(STEPS):
    t0 = time.perf_counter()
    step(k)
    t.append(time.perf_counter() - t0)
t.sort()
med = t[(STEPS - 1) // 2]
print(f"torch:cnn_step {med:.6f}")
print(f"torch:cnn_epoch {med * 469:.6f}")
print(f"torch:cnn_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
