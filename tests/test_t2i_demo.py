"""The demo world's text-to-image parts: the model source init writes, the base pipeline's
architecture (as docs/performance.md found workable), its tokenizer, a short pretraining, the
demo prompts and the whole-world judge's training rows."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from data_kit import make_pack  # noqa: E402
from regionadapt_plugins.demo_world import t2i_base as B  # noqa: E402
from regionadapt_plugins.demo_world import t2i_judge as J  # noqa: E402
from regionadapt_plugins.demo_world.sources import SOURCES  # noqa: E402
from regionadapt_plugins.demo_world.world import DemoWorld  # noqa: E402

from regionadapt.components import Context  # noqa: E402
from regionadapt.plugins import registry  # noqa: E402

torch.set_num_threads(1)


def test_the_t2i_source_writes_a_valid_demo_config():
    src = SOURCES["t2i"]()
    backend = registry("backends").get("diffusers")
    tune = backend.TuneParams(**src.tune)
    assert tune.method == "full" and tune.max_steps
    # the demo's rehearsal reaches the pool init writes (a source's collector params)
    from regionadapt.init_template import render
    from regionadapt.packs import get_pack
    from regionadapt.schema import tomllib

    config = tomllib.loads(render(get_pack("sea"), "sea", None, ["t2i"]))
    params = config["collect"]["sources"][0]["params"]
    assert {k: params[k] for k in src.collect} == src.collect and params["regional_concepts"] == 24
    assert max(src.merge_grid) >= 0.9
    roles = set()
    for b in src.benchmarks:
        ev = registry("evaluators").get(b["evaluator"])
        ev(b["params"])  # validates
        roles.add(b["role"])
    assert roles == {"regional", "global"}
    backend.ModelParams(**src.placeholder)


def test_the_base_pipeline_architecture(tmp_path):
    pipe = B.build_pipeline()
    n = sum(p.numel() for p in pipe.unet.parameters())
    assert 0.8e6 < n < 1.2e6
    attn = {name.split(".attentions")[0] for name, _ in pipe.unet.named_modules()
            if ".attentions." in name}  # fmt: skip
    # the two lowest levels (16x16, 8x8); the 32x32 level has none (its attention cost most)
    assert attn == {"down_blocks.1", "down_blocks.2", "mid_block", "up_blocks.0", "up_blocks.1"}
    assert pipe.vae_scale_factor == 1 and sum(p.numel() for p in pipe.vae.parameters()) < 40_000
    assert pipe.scheduler.config.prediction_type == "sample"
    ids = pipe.tokenizer("a photo of ต้มยำ").input_ids
    # one token per byte (spaces split words, they are not tokens), no unknown token
    assert ids[0] == 512 and ids[-1] == 513 and len(ids) == 2 + len("aphotoofต้มยำ".encode())


def test_a_short_pretraining_runs_and_saves_a_loadable_pipeline(tmp_path):
    import json

    pipe = B.build_pipeline()
    rows = DemoWorld(pack=None).global_training_set(2)
    cfg = {**B.PRETRAIN, "steps": 3, "vae_steps": 2, "vae_pictures": 8, "batch_size": 4}
    summary = B.pretrain(pipe, rows, cfg, seed=0)
    assert summary["steps"] == 3 and summary["first_loss"] > 0
    assert pipe.vae.config.scaling_factor != 0.18215  # set from the latents' spread
    pipe.save_pretrained(str(tmp_path / "p"), safe_serialization=True)
    (tmp_path / "p" / "regionadapt_t2i.json").write_text(json.dumps(B.GENERATION))
    handle = registry("backends").get("diffusers")().load(tmp_path / "p")
    assert handle.resolution == 32
    assert handle.num_inference_steps == B.GENERATION["num_inference_steps"]
    img = handle.generate(["a photo of a dog"], seed=0, num_inference_steps=2)[0]
    assert img.size == (32, 32)


def test_the_vae_learns_from_generic_pictures_and_its_latents_are_deterministic(monkeypatch):
    """The VAE's data are random primitive combinations (not the world's concepts), and after
    training a sampled latent equals the mean: a tune that samples latents trains on exactly
    the latents the UNet was pretrained on."""
    px = B.generic_pictures(64, seed=3)
    assert px.shape == (64, 3, B.RESOLUTION, B.RESOLUTION) and -1 <= px.min() < px.max() <= 1
    assert torch.equal(px, B.generic_pictures(64, seed=3)) and not torch.equal(px, B.generic_pictures(64, seed=4))
    # broad data: every primitive of the renderer shows up, in many combinations
    from regionadapt_plugins.demo_world import concepts, render

    drawn = []
    real_draw = render.draw
    monkeypatch.setattr(render, "draw", lambda sig, *a: drawn.append(sig) or real_draw(sig, *a))
    B.generic_pictures(300, seed=0)
    assert {d.shape for d in drawn} == set(concepts.SHAPES)
    assert {d.colour for d in drawn} == set(concepts.COLOURS)
    assert {d.pattern for d in drawn} == set(concepts.PATTERNS)
    assert {d.mark for d in drawn} == set(concepts.MARKS)
    assert len(set(drawn)) > 250
    vae = B.build_pipeline().vae
    B.train_vae(vae, px, steps=2, seed=0)
    dist = vae.encode(px[:4]).latent_dist
    assert float(dist.std.max()) < 1e-5
    assert torch.allclose(dist.sample(generator=torch.Generator().manual_seed(1)), dist.mean, atol=1e-5)
    assert vae.config.scaling_factor > 0 and not any(p.requires_grad for p in vae.parameters())


def test_demo_prompts_and_judge_rows_cover_the_world(tmp_path):
    pack = make_pack(tmp_path)
    world = DemoWorld(pack=pack, seed=0, regional_concepts=6)
    reg = J.demo_prompts(world, "regional", "test", 2)
    assert {p["concept"] for p in reg} == {c.id for c in world.regional}
    assert len(reg) == 2 * len(world.regional)
    assert J.demo_prompts(world, "regional", "test", 2) == reg  # deterministic
    assert J.demo_prompts(world, "regional", "validation", 2) != reg
    glob = J.demo_prompts(world, "global", "test", 1)
    assert [p["text"] for p in glob] == [f"a photo of a {c.id}" for c in world.global_]
    rows = J.judge_training_rows(world, 2)
    assert len(rows) == 2 * (len(world.global_) + len(world.regional))


def test_demo_clip_score_uses_the_given_judge(tmp_path):
    import openclip_tiny
    import t2i_tiny as T

    pack = make_pack(tmp_path)
    judge = openclip_tiny.tiny_base(tmp_path)["model"]
    gen = registry("backends").get("diffusers")().load(T.tiny_base(tmp_path)["model"])
    params = {"part": "global", "per_concept": 1, "judge": judge, "num_inference_steps": 2}
    ev = registry("evaluators").get("demo-clip-score")({**params, "metric": "clip-score"})
    res = ev.evaluate(gen, Context(pack=pack), "test")
    res.check("demo-clip-score")
    assert res.n == 24 and res.raw_name == "CLIPScore"
    assert set(res.groups["category"]) == {"everyday"}
    # the default: R-precision over every concept of the world, CLIPScore kept as a metric
    ev = registry("evaluators").get("demo-clip-score")(params)
    top = ev.evaluate(gen, Context(pack=pack), "test")
    top.check("demo-clip-score")
    world = DemoWorld(pack=pack, seed=0, regional_concepts=24)
    assert top.metrics["concepts"] == len(world.global_) + len(world.regional)
    assert set(top.items) <= {0.0, 1.0} and top.score == top.metrics["r_precision"]
    assert top.metrics["clip_score"] == pytest.approx(res.raw)  # same seeds, same pictures


def test_the_r_precision_classes_are_every_caption_the_judge_learnt(tmp_path):
    import random

    world = DemoWorld(pack=make_pack(tmp_path), seed=0, regional_concepts=6)
    classes = J.concept_captions(world)
    assert set(classes) == {c.id for c in world.global_ + world.regional}
    prng = random.Random(0)
    for c in world.global_ + world.regional:
        for _ in range(20):
            assert J._caption(c, prng)[0] in classes[c.id]


def test_the_pretraining_steps_can_be_set_and_a_bad_value_is_refused(monkeypatch):
    monkeypatch.delenv(B.STEPS_ENV, raising=False)
    assert B.pretrain_config() == B.PRETRAIN  # unset: the demo's own (and its cache key)
    monkeypatch.setenv(B.STEPS_ENV, "2000")
    assert B.pretrain_config() == {**B.PRETRAIN, "steps": 2000}
    for bad in ("many", "10", "-5"):
        monkeypatch.setenv(B.STEPS_ENV, bad)
        with pytest.raises(ValueError, match=B.STEPS_ENV):
            B.pretrain_config()
