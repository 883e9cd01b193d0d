"""PyTorch peer of bench/conv.lua: the same convolutions and pooling, float32, batch 64,
NCHW (PyTorch's default memory format) and NHWC (channels_last). Prints "torch:<key> seconds"
lines, median of REPS runs after a warm-up; TS_THREADS threads like tensorslow's side."""
import os, sys
import torch
import torch.nn.functional as F

from peer_common import median, emit

only = sys.argv[1] if len(sys.argv) > 1 else None
threads = int(os.environ.get("TS_THREADS", "2"))
torch.set_num_threads(threads)
print(f"torch:threads {threads}")
print(f"# OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} torch {torch.__version__} "
      f"mkldnn={torch.backends.mkldnn.is_available()}", flush=True)


N = 64
SHAPES = [("28x28x1-32k5", 28, 1, 32, 5, False), ("14x14x32-64k5", 14, 32, 64, 5, False),
          ("56x56x64-64k3", 56, 64, 64, 3, False), ("56x56x64-256k1", 56, 64, 256, 1, False),
          ("7x7x512-512k3dw", 7, 512, 512, 3, True)]

for fmt in ("NHWC", "NCHW"):
    mf = torch.channels_last if fmt == "NHWC" else torch.contiguous_format
    for name, h, ci, co, k, dw in SHAPES:
        key = f"{fmt.lower()}_{name}"
        if only and only not in key:
            continue
        groups = ci if dw else 1
        x = torch.randn(N, ci, h, h).contiguous(memory_format=mf)
        w = (torch.randn(co, ci // groups, k, k) * 0.1).contiguous(memory_format=mf)
        x.requires_grad_(True)
        w.requires_grad_(True)

        def fwd():
            with torch.no_grad():
                F.conv2d(x, w, padding="same", groups=groups)

        def fwdbwd():
            x.grad = None
            w.grad = None
            F.conv2d(x, w, padding="same", groups=groups).sum().backward()
        emit("torch", key + "_fwd", median(fwd))
        emit("torch", key + "_fwdbwd", median(fwdbwd))
    key = f"{fmt.lower()}_maxpool2x2_56x56x64"
    if not only or only in key:
        x = torch.randn(N, 64, 56, 56).contiguous(memory_format=mf)

        def pool():
            with torch.no_grad():
                F.max_pool2d(x, 2)
        emit("torch", key, median(pool))
