"""How good the demo world's text-to-image judge is on *real* world pictures (not generated):
zero-shot top-1 over every concept of the world, and CLIPScore of a picture with its own
caption, for the regional and the global concepts. The CLIPScore a generated picture can reach
is bounded by what real pictures get.

Builds the judge first if it is not cached (minutes). Uses the cache of REGIONADAPT_CACHE.

    python benchmarks/bench_t2i_judge.py [--region sea] [--per-concept 8]
"""

from __future__ import annotations

import argparse
import io
import random
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--region", default="sea")
    ap.add_argument("--per-concept", type=int, default=8)
    ap.add_argument(
        "--vae",
        help="a pipeline folder: also score the pictures after its VAE's "
        "encode -> decode round trip (what the UNet can at best produce)",
    )
    args = ap.parse_args()
    import numpy as np
    import torch
    from PIL import Image
    from regionadapt_plugins.demo_world.t2i_judge import _caption, _world, demo_judge
    from regionadapt_plugins.t2i_eval.clip_score import clip_scores

    from regionadapt.packs import get_pack
    from regionadapt.plugins import registry

    torch.set_num_threads(max(1, torch.get_num_threads()))
    pack = get_pack(args.region)
    t0 = time.perf_counter()
    folder = demo_judge(pack, 0, 24)
    judge = registry("backends").get("open_clip")().load(folder)
    world = _world(pack, 0, 24)
    concepts = world.global_ + world.regional
    rng, prng = np.random.default_rng(12345), random.Random(12345)
    names = [_caption(c, random.Random(0))[0] if c.kind == "regional"
             else f"a photo of a {c.id}" for c in concepts]  # fmt: skip
    text_emb = judge.encode_texts(names)
    for kind in ("regional", "global"):
        part = [i for i, c in enumerate(concepts) if c.kind == kind]
        images, captions, truth = [], [], []
        for i in part:
            for _ in range(args.per_concept):
                images.append(Image.open(io.BytesIO(world.picture(concepts[i], rng))))
                captions.append(_caption(concepts[i], prng)[0])
                truth.append(i)
        if args.vae:
            images = _round_trip(args.vae, images)
        img_emb = judge.encode_images(images)
        top1 = (img_emb @ text_emb.T).argmax(dim=1)
        acc = float((top1 == torch.tensor(truth)).float().mean())
        cs = clip_scores(judge, images, captions).clamp(min=0).mean()
        print(f"{kind:>8}{' (VAE round trip)' if args.vae else ''}: judge top-1 over {len(concepts)} concepts {acc:.3f}, CLIPScore of "
              f"real pictures with their captions {float(cs):.1f} (n={len(images)})")  # fmt: skip
    print(f"({time.perf_counter() - t0:.1f} s, judge {folder})")


def _round_trip(folder: str, images: list) -> list:
    import numpy as np
    import torch
    from diffusers import AutoencoderKL
    from PIL import Image

    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    x = torch.from_numpy(np.stack([np.asarray(i.convert("RGB")) for i in images]))
    x = x.permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        y = vae.decode(vae.encode(x).latent_dist.mean).sample.clamp(-1, 1)
    print(f"VAE round-trip MSE in [-1, 1]: {float(((y - x) ** 2).mean()):.4f}")
    arr = ((y.permute(0, 2, 3, 1) + 1) * 127.5).round().byte().numpy()
    return [Image.fromarray(a) for a in arr]


if __name__ == "__main__":
    main()
