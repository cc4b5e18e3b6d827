"""Seconds per training step of the open_clip backend on a tiny model (3.4M params).

    python benchmarks/openclip_tune_speed.py [--batch 64] [--steps 30]

Times train_contrastive end to end (preloaded data) for full and LoRA tuning, and a bare
PyTorch loop (forward + ClipLoss + backward + AdamW) on the same tensors as the floor.
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--width", type=int, default=64)
    args = ap.parse_args()

    import datasets
    from open_clip.loss import ClipLoss
    from PIL import Image
    from regionadapt_plugins.openclip_backend import TuneParams, create_model, train_contrastive

    w = args.width
    cfg = {
        "embed_dim": w,
        "vision_cfg": {
            "image_size": 32,
            "patch_size": 8,
            "width": w,
            "layers": 2,
            "head_width": 32,
        },
        "text_cfg": {
            "context_length": 32,
            "vocab_size": 49408,
            "width": w,
            "heads": 2,
            "layers": 2,
        },
    }
    rng = np.random.default_rng(0)
    rows = []
    for i in range(args.batch * args.steps):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
        rows.append({"image": buf.getvalue(), "text": f"a photo of thing number {i}"})
    ds = datasets.Dataset.from_list(rows)
    print(f"torch threads {torch.get_num_threads()}, batch {args.batch}, steps {args.steps}")
    for method in ("full", "lora"):
        torch.manual_seed(0)
        model = create_model(cfg)
        n = sum(p.numel() for p in model.model.parameters())
        params = TuneParams(
            method=method, epochs=1, batch_size=args.batch, lr=1e-4, log_every=10**6
        )
        s = train_contrastive(model, ds, params, log=lambda _m: None)
        print(
            f"{method:5s} params {n / 1e6:.2f}M: {s['seconds_per_step'] * 1000:.1f} ms/step, "
            f"{s['samples_per_s']:.0f} samples/s, data prep {s['prepare_seconds']:.2f}s, "
            f"total {s['seconds']:.2f}s"
        )
    # floor: the same work without accelerate, data planning or logging
    torch.manual_seed(0)
    net = create_model(cfg).model.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    loss_fn = ClipLoss()
    x = torch.randn(args.batch, 3, 32, 32)
    t = torch.randint(0, 49408, (args.batch, 32))
    for i in range(args.steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        img, txt, scale = net(x, t)[:3]
        loss = loss_fn(img, txt, scale)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    ms = (time.perf_counter() - t0) / args.steps * 1000
    print(f"bare loop (full): {ms:.1f} ms/step")


if __name__ == "__main__":
    main()
