"""PyTorch peer of bench/cnn_infer.lua: the same network (bench/cnn_peer.py's "bn" model) in
eval mode under no_grad, float32, PyTorch's default NCHW, logits into an out= tensor, at
TS_THREADS threads. Prints "torch:cnn_infer_b<batch> <seconds per call>"."""
import os
import torch
from peer_common import median

torch.set_num_threads(int(os.environ.get("TS_THREADS", "2")))
torch.manual_seed(1)
nn = torch.nn
model = nn.Sequential(
    nn.Conv2d(1, 32, 5, padding=2, bias=False), nn.BatchNorm2d(32, eps=1e-3),
    nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 5, padding=2, bias=False), nn.BatchNorm2d(64, eps=1e-3),
    nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(7 * 7 * 64, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
model.eval()


for b in (1, 8):
    x = torch.rand(b, 1, 28, 28)
    K = 200 if b == 1 else 50
    out = torch.empty(b, 10)

    def calls():
        with torch.no_grad():
            for _ in range(K):
                out.copy_(model(x))
    print(f"torch:cnn_infer_b{b} {median(calls) / K:.9g}", flush=True)
