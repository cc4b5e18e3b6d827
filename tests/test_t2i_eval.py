"""The CLIPScore evaluator: torchmetrics' formula on the same features, lexicon and global
prompts, fixed seeds, groups, saved images and contact sheets, on a tiny SD pipeline judged by
a tiny open_clip model loaded through the registered backend."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import openclip_tiny  # noqa: E402
import t2i_tiny as T  # noqa: E402
from data_kit import make_pack  # noqa: E402
from regionadapt_plugins.t2i_eval import prompts as P  # noqa: E402
from regionadapt_plugins.t2i_eval.clip_score import clip_scores, r_precision_hits  # noqa: E402

from regionadapt.components import Context, build  # noqa: E402
from regionadapt.errors import ConfigError  # noqa: E402

torch.set_num_threads(1)


class FeatureJudge:
    """An embedding handle returning given (unnormalised) features, looked up by position."""

    def __init__(self, img, txt):
        self.img, self.txt = img, txt

    def encode_images(self, images, batch_size=64):
        return torch.nn.functional.normalize(self.img[: len(images)], dim=-1)

    def encode_texts(self, texts, batch_size=256):
        return torch.nn.functional.normalize(self.txt[: len(texts)], dim=-1)


def test_clip_score_equals_torchmetrics_on_the_same_features():
    pytest.importorskip("torchmetrics")
    from torchmetrics.functional.multimodal.clip_score import _clip_score_update

    gen = torch.Generator().manual_seed(0)
    img, txt = torch.randn(12, 8, generator=gen), torch.randn(12, 8, generator=gen)
    img[:6] = txt[:6] + 0.3 * img[:6]  # some pairs agree, the rest are ~0 or negative

    class Model:  # torchmetrics calls these with what Processor returns
        config = SimpleNamespace()

        def to(self, device):
            return self

        def get_image_features(self, pixel_values):
            return img[pixel_values.long()]

        def get_text_features(self, input_ids, attention_mask):
            return txt[input_ids.long()]

    def processor(images=None, text=None, **kw):
        if images is not None:
            return {"pixel_values": torch.stack([i.flatten()[0] for i in images])}
        ids = torch.tensor([int(t) for t in text])
        return {"input_ids": ids, "attention_mask": torch.ones(len(ids), 1)}

    images = [torch.full((3, 1, 1), float(i)) for i in range(12)]
    reference, n = _clip_score_update(images, [str(i) for i in range(12)], Model(), processor)
    ours = clip_scores(FeatureJudge(img, txt), list(range(12)), ["x"] * 12)
    torch.testing.assert_close(ours, reference.float(), rtol=1e-5, atol=1e-4)
    assert (reference < 0).any() and (reference > 20).any()
    # torchmetrics' compute(): max(sum / n, 0) is what `raw` reports
    tm_value = torch.max(reference.sum(0) / n, torch.zeros(()))
    assert max(float(ours.mean()), 0.0) == pytest.approx(float(tm_value), abs=1e-4)


class TextLookupJudge(FeatureJudge):
    """Image features by position, text features by the text itself."""

    def encode_texts(self, texts, batch_size=256):
        return torch.nn.functional.normalize(torch.stack([self.txt[t] for t in texts]), dim=-1)


def test_r_precision_ranks_each_picture_against_every_concept_s_averaged_captions():
    txt = {"a1": torch.tensor([1.0, 0, 0]), "a2": torch.tensor([0, 1.0, 0]),
           "b": torch.tensor([0.9, 0, 0.436])}  # fmt: skip
    img = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0.2, 1.0]])
    judge = TextLookupJudge(img, txt)
    classes = {"A": ["a1", "a2"], "B": ["b"]}
    # image 0 equals caption a1, but A's averaged caption (cos 0.71) loses to B's (0.90): a
    # concept is one class however many names it has, not the best of its names
    assert r_precision_hits(judge, [0, 1, 2], ["A", "A", "B"], classes) == [0.0, 1.0, 1.0]
    assert r_precision_hits(judge, [0, 1, 2], ["B", "B", "A"], classes) == [1.0, 0.0, 0.0]
    with pytest.raises(ConfigError, match="no caption.*'C'"):
        r_precision_hits(judge, [0], ["C"], classes)


def test_lexicon_prompts_cover_english_and_pack_languages(tmp_path):
    pack = make_pack(tmp_path)
    everything = P.lexicon_prompts(pack)
    english = P.lexicon_prompts(pack, languages="english", describe=False)
    assert len(english) == len(pack.lexicon) and {p["lang"] for p in english} == {"eng"}
    tom_yum = [p for p in everything if p["concept"] == "tom-yum"]
    assert {p["lang"] for p in tom_yum} == {"eng", "tha", "ind"}
    thai = next(p for p in tom_yum if p["lang"] == "tha")
    assert thai["text"] == "a photo of a dish of ต้มยำ, hot and sour Thai soup"
    assert next(p for p in english if p["concept"] == "tom-yum")["text"] == (
        "a photo of a dish of tom yum"
    )
    clothing = P.lexicon_prompts(pack, categories=["clothing"])
    assert clothing and all(p["category"] == "clothing" for p in clothing)
    assert clothing[0]["text"].startswith("a photo of a person wearing ")
    with pytest.raises(ConfigError, match="no entry matched"):
        P.lexicon_prompts(pack, categories=["music"])
    dense = P.global_prompts()
    assert len(dense) >= 40 and len({p["text"] for p in dense}) == len(dense)
    assert all(len(p["text"].split()) >= 12 for p in dense)  # dense: several entities each


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("t2i-eval")
    judge = openclip_tiny.tiny_base(root)["model"]
    gen = build("backends", "diffusers").load(T.tiny_base(root)["model"])
    gen.num_inference_steps = 2
    return root, judge, gen


def test_evaluate_scores_groups_seeds_and_keeps_images(setup, tmp_path):
    root, judge, gen = setup
    pack = make_pack(tmp_path)
    ctx = Context(pack=pack, run=SimpleNamespace(root=tmp_path / "run"))
    ev = build("evaluators", "clip-score", {"prompts": "lexicon", "judge": judge, "limit": 10})
    res = ev.evaluate(gen, ctx, "test")
    res.check("clip-score")
    assert res.n == 10 and len(res.items) == 10
    assert res.score == pytest.approx(sum(res.items) / 10)
    assert res.raw_name == "CLIPScore" and res.raw == pytest.approx(res.metrics["clip_score"])
    assert set(res.groups) >= {"category", "lang", "country"}
    assert sum(g["n"] for g in res.groups["lang"].values()) == 10
    again = ev.evaluate(gen, ctx, "test")
    assert again.items == res.items  # fixed seeds: the same images
    val = ev.evaluate(gen, ctx, "validation")
    assert val.items != res.items  # another split draws other images
    # The items' scores are those of the saved images, recomputed by the judge from disk.
    folder = tmp_path / "run" / "t2i-images" / "test" / "lexicon" / "tiny-sd-pipeline"
    rows = json.loads((folder / "items.json").read_text())
    from PIL import Image
    from regionadapt_plugins.t2i_eval.clip_score import load_judge

    imgs = [Image.open(folder / r["image"]) for r in rows]
    again_scores = clip_scores(load_judge("open_clip", judge, ctx), imgs, [r["text"] for r in rows])
    want = [max(float(s), 0) / 100 for s in again_scores]
    assert [r["clip_item"] for r in rows] == pytest.approx(want, abs=1e-5)
    assert (tmp_path / "run" / "t2i-images" / "test" / "lexicon-contact.png").is_file()
    # the result names the sheet (relative to the run folder) for the report to show
    assert [i["path"] for i in res.images] == ["t2i-images/test/lexicon-contact.png"]
    assert res.to_json()["images"][0]["title"].startswith("contact sheet, test split")


def test_r_precision_on_lexicon_prompts_classes_by_entry(setup, tmp_path):
    """Through the evaluator: a lexicon entry's prompts in several languages are one class, the
    item scores are the recomputed hits, and CLIPScore of the same pictures stays a metric."""
    root, judge, gen = setup
    from PIL import Image
    from regionadapt_plugins.t2i_eval.clip_score import load_judge

    pack = make_pack(tmp_path)
    ctx = Context(pack=pack, run=SimpleNamespace(root=tmp_path / "run"))
    params = {"prompts": "lexicon", "judge": judge, "metric": "r-precision"}
    res = build("evaluators", "clip-score", params).evaluate(gen, ctx, "test")
    res.check("clip-score")
    items = P.lexicon_prompts(pack)
    assert res.n == len(items) and res.metrics["concepts"] == len(pack.lexicon) < len(items)
    assert set(res.items) <= {0.0, 1.0} and res.score == res.metrics["r_precision"]
    folder = tmp_path / "run" / "t2i-images" / "test" / "lexicon" / "tiny-sd-pipeline"
    imgs = [Image.open(folder / f"{i:04d}.png") for i in range(len(items))]
    classes: dict[str, list[str]] = {}
    for it in items:
        classes.setdefault(it["concept"], []).append(it["text"])
    want = r_precision_hits(load_judge("open_clip", judge, ctx), imgs,
                            [it["concept"] for it in items], classes)  # fmt: skip
    assert res.items == want
    plain = build("evaluators", "clip-score", {**params, "metric": "clip-score"})
    assert plain.evaluate(gen, ctx, "test").raw == pytest.approx(res.metrics["clip_score"])
    one = build("evaluators", "clip-score", {**params, "limit": 1})  # one concept: no ranking
    with pytest.raises(ConfigError, match="at least 2 concepts"):
        one.evaluate(gen, ctx, "test")


def test_global_prompts_and_the_contact_sheet_over_models(setup, tmp_path):
    root, judge, gen = setup
    from PIL import Image

    ctx = Context(pack=make_pack(tmp_path), run=SimpleNamespace(root=tmp_path / "run"))
    ev = build("evaluators", "clip-score", {"prompts": "global", "judge": judge, "limit": 3})
    for name in ("tuned", "base", "b=0.5"):
        gen.name = name
        ev.evaluate(gen, ctx, "test")
    from regionadapt_plugins.t2i_eval.images import models_in

    set_dir = tmp_path / "run" / "t2i-images" / "test" / "global"
    assert models_in(set_dir) == ["base", "b=0.5", "tuned"]
    sheet = Image.open(set_dir.with_name("global-contact.png"))
    assert sheet.size == (140 + 3 * 96, 16 + 3 * 96)


def test_a_judge_that_is_not_an_embedding_model_is_refused(setup, tmp_path):
    ctx = Context(pack=make_pack(tmp_path))
    ev = build(
        "evaluators", "clip-score",
        {"prompts": "global", "judge_backend": "diffusers", "judge": "x", "limit": 1},
    )  # fmt: skip
    with pytest.raises(ConfigError, match="not an embedding model"):
        ev.evaluate(setup[2], ctx, "test")


def test_contact_sheet_labels_name_the_language_where_the_font_has_no_glyphs():
    from PIL import Image, ImageDraw
    from regionadapt_plugins.t2i_eval.images import drawable_text, label_font, wrap

    font = label_font()
    assert drawable_text(font, "a photo of a dish of ต้มยำ, a hot and sour soup", "tha") == (
        "a photo of a dish of [tha], a hot and sour soup"
    )
    assert drawable_text(font, "phở bò, a Vietnamese soup", "vie") == "phở bò, a Vietnamese soup"
    assert drawable_text(font, "မုန့် ဟင်းခါး", "mya") == "[mya]"  # one marker per run of words
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = wrap(draw, font, "a photo of a dish of [tha], a hot and sour soup " + "x" * 60, 80)
    assert all(draw.textlength(line, font=font) <= 80 for line in lines)
    assert " ".join(lines).replace(" ", "") == ("a photo of a dish of [tha], a hot and sour soup "
                                                + "x" * 60).replace(" ", "")  # fmt: skip
