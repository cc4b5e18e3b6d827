"""Our zero-shot accuracy and retrieval recall equal CLIP_benchmark's on the same tiny
open_clip model, data and templates (CLIP_benchmark is a dev dependency)."""

from __future__ import annotations

import io
import random

import pytest
import torch
from embedding_eval_helpers import ctx, save_benchmark, tiny_clip_handle
from PIL import Image

from regionadapt.components import build

zsc = pytest.importorskip("clip_benchmark.metrics.zeroshot_classification")
zsr = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")

WORDS = "cat dog rice boat temple river market kite drum lamp fish road".split()


def noise(rng: random.Random) -> bytes:
    img = Image.frombytes("RGB", (32, 32), bytes(rng.randrange(256) for _ in range(3072)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class ImageSet(torch.utils.data.Dataset):
    def __init__(self, items, preprocess, classes=None):
        self.items, self.preprocess, self.classes = items, preprocess, classes

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        img, target = self.items[i]
        return self.preprocess(Image.open(io.BytesIO(img)).convert("RGB")), target


def test_zero_shot_accuracy_equals_clip_benchmark(tmp_path):
    rng = random.Random(0)
    classes = WORDS[:6]
    rows = [{"id": str(i), "image": noise(rng), "label": rng.choice(classes)} for i in range(48)]
    templates = ["a photo of a {c}.", "a {c} in the picture.", "{c}"]
    handle = tiny_clip_handle()
    ours = build(
        "evaluators",
        "zero-shot-classification",
        {
            "dataset": "local-benchmark",
            "dataset_params": {"path": save_benchmark(tmp_path / "b", rows)},
            "templates": templates,
            "batch_size": 16,
        },
    ).evaluate(handle, ctx(), "test")

    data = ImageSet([(r["image"], classes.index(r["label"])) for r in rows], handle.preprocess)
    data.classes = classes
    loader = torch.utils.data.DataLoader(data, batch_size=16)
    # zsc.evaluate's accuracy() fails under numpy 2 (float() of a 1-element array), so its
    # own classifier and logits are used and the metrics computed as evaluate() does.
    clf = zsc.zero_shot_classifier(
        handle.model, handle.tokenizer, classes, templates, "cpu", amp=False
    )
    logits, target = zsc.run_classification(handle.model, clf, loader, "cpu", amp=False)
    acc1 = (logits.argmax(1) == target).float().mean().item()
    acc5 = (logits.topk(5, 1).indices == target[:, None]).any(1).float().mean().item()
    balanced = zsc.balanced_accuracy_score(target, logits.argmax(1))
    assert ours.score == pytest.approx(acc1, abs=1e-9)
    assert ours.metrics["acc5"] == pytest.approx(acc5, abs=1e-9)
    assert ours.metrics["mean_per_class_recall"] == pytest.approx(balanced)
    assert 0 < ours.score < 1  # a random model: neither trivially right nor wrong


def test_retrieval_recall_equals_clip_benchmark(tmp_path):
    rng = random.Random(1)
    images = [noise(rng) for _ in range(24)]
    captions = [[" ".join(rng.sample(WORDS, 3)) for _ in range(2)] for _ in images]
    rows = [
        {"id": f"{i}-{j}", "image": img, "text": cap}
        for i, (img, caps) in enumerate(zip(images, captions, strict=True))
        for j, cap in enumerate(caps)
    ]
    handle = tiny_clip_handle()
    ours = build(
        "evaluators",
        "retrieval",
        {
            "dataset": "local-benchmark",
            "dataset_params": {"path": save_benchmark(tmp_path / "r", rows)},
        },
    ).evaluate(handle, ctx(), "test")

    data = ImageSet(list(zip(images, captions, strict=True)), handle.preprocess)
    loader = torch.utils.data.DataLoader(
        data, batch_size=8, collate_fn=lambda b: (torch.stack([x for x, _ in b]), [t for _, t in b])
    )
    ref = zsr.evaluate(
        handle.model, loader, handle.tokenizer, "cpu", amp=False, recall_k_list=[1, 5, 10]
    )
    for k in (1, 5, 10):
        assert ours.metrics[f"recall@{k}_text_to_image"] == pytest.approx(
            ref[f"image_retrieval_recall@{k}"]
        )
        assert ours.metrics[f"recall@{k}_image_to_text"] == pytest.approx(
            ref[f"text_retrieval_recall@{k}"]
        )
    assert 0 < ours.metrics["recall@5_text_to_image"] < 1
