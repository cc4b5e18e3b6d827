"""Value alignment, part 1: read the questions, build the prompts, ask the model."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from regionadapt.components import Context
from regionadapt.handles import ChatPrompt
from regionadapt_plugins.culture_eval.alignment import (
    human_distribution,
    letter_distribution,
    letters_for,
)
from regionadapt_plugins.culture_eval.values import CONDITIONS, ISO2, ISO3, Pair

if TYPE_CHECKING:
    from regionadapt_plugins.culture_eval.values import ValueAlignmentParams


def bump(skipped: dict[str, int], reason: str, by: int = 1) -> None:
    skipped[reason] = skipped.get(reason, 0) + by


def load_questions(
    p: ValueAlignmentParams, ctx: Context, split: str, skipped: dict[str, int], who: str
) -> dict[str, list[dict[str, Any]]]:
    """question id -> its rows (one per country), in the data's order; ``limit`` questions."""
    from regionadapt.components import build

    loader = build("datasets", p.dataset, p.dataset_params, where=f"{who} dataset_params")
    ds = loader.load(ctx, split).remove_columns(["image"])
    questions: dict[str, list[dict[str, Any]]] = {}
    for row in ds:
        meta = json.loads(row["meta"] or "{}")
        if meta.get("skip"):
            bump(skipped, f"question: {meta['skip']}")
            continue
        qid = str(meta.get("question_id") or row["id"])
        if qid not in questions and p.limit is not None and len(questions) >= p.limit:
            continue
        questions.setdefault(qid, []).append({**row, "meta": meta})
    return questions


def target_countries(
    p: ValueAlignmentParams, ctx: Context, rows: list[dict[str, Any]]
) -> list[str]:
    if p.countries == "pack":
        return list(ctx.pack.country_codes)
    if p.countries == "rest":
        own = set(ctx.pack.country_codes)
        return [r["country"] for r in rows if r["country"] and r["country"] not in own]
    return list(p.countries)


def build_pairs(
    p: ValueAlignmentParams, ctx: Context, split: str, skipped: dict[str, int], who: str
) -> tuple[list[Pair], list[str]]:
    """Every valid (question, country) pair with its prompts per condition."""
    from regionadapt_plugins.culture_eval.images import country_images

    questions = load_questions(p, ctx, split, skipped, who)
    conditions = list(CONDITIONS if p.images is not None else CONDITIONS[2:])
    pairs: list[Pair] = []
    for qid, rows in questions.items():
        by_country = {r["country"]: r for r in rows if r["country"]}
        if p.countries == "rest":
            bump(skipped, "country: name not known", sum(1 for r in rows if not r["country"]))
        for c in target_countries(p, ctx, rows):
            if c not in by_country:
                bump(skipped, "country missing from selections")
                continue
            pair = make_pair(p, ctx, qid, by_country[c], skipped)
            if pair is not None:
                pairs.append(pair)
    images: dict[str, Any] = {}
    decoded: dict[str, Any] = {}
    if p.images is not None and pairs:
        images = country_images(p.images, ctx, {pr.country for pr in pairs}, who)
        images, decoded = decode_pictures(images, skipped)
        keep = [pr for pr in pairs if pr.country in images]
        if len(keep) < len(pairs):
            bump(skipped, "no image for country", len(pairs) - len(keep))
        pairs = keep
    for pr in pairs:
        pr.images = images.get(pr.country, [])
        add_prompts(p, pr, conditions, decoded)
    return pairs, conditions


def make_pair(
    p: ValueAlignmentParams, ctx: Context, qid: str, row: dict[str, Any], skipped: dict[str, int]
) -> Pair | None:
    meta, options = row["meta"], list(row["options"])
    lang = row.get("lang") or "eng"
    if not ISO3.match(lang):
        bump(skipped, f"unknown language ({lang!r})")
        return None
    if not ISO2.match(row["country"]):
        bump(skipped, "country: not an ISO alpha-2 code")
        return None
    shares = meta.get("distribution") or []
    if len(options) != len(shares):
        bump(skipped, "options do not match selections (count)")
        return None
    try:
        letters_for(len(options))
        human = human_distribution(shares)
    except ValueError as exc:
        bump(skipped, f"bad shares or options: {str(exc).split(',')[0]}")
        return None
    return Pair(
        qid=qid, country=row["country"], country_name=country_name(ctx, row),
        topic=str(meta.get("topic") or "unassigned"), question=row["text"], options=options,
        human=human,
    )  # fmt: skip


def country_name(ctx: Context, row: dict[str, Any]) -> str:
    for c in ctx.pack.countries:
        if c.code == row["country"]:
            return c.name
    return re.sub(r"\s*\(.*\)\s*$", "", str(row["meta"].get("country_name") or row["country"]))


def add_prompts(
    p: ValueAlignmentParams, pr: Pair, conditions: Sequence[str], decoded: dict[str, Any]
) -> None:
    letters = letters_for(len(pr.options))
    lines = "\n".join(f"{letter}. {o}" for letter, o in zip(letters, pr.options, strict=True))
    for cond in conditions:
        prefix = p.named_prefix.format(country=pr.country_name) if cond.endswith("+named") else ""
        text = p.template.format(prefix=prefix, question=pr.question, options=lines)
        if cond.startswith("image"):
            pr.prompts[cond] = [ChatPrompt(text=text, images=[decoded[im.id]]) for im in pr.images]
        else:
            pr.prompts[cond] = [ChatPrompt(text=text)]


def decode_pictures(
    images: dict[str, list[Any]], skipped: dict[str, int]
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Each picture decoded once; one that does not decode is dropped and counted."""
    from regionadapt.data.images import to_pil

    decoded: dict[str, Any] = {}
    kept: dict[str, list[Any]] = {}
    for country, ims in images.items():
        for im in ims:
            try:
                decoded[im.id] = to_pil(im.image).convert("RGB")
            except Exception:  # a broken file must not end the evaluation
                bump(skipped, "unreadable picture")
                continue
            kept.setdefault(country, []).append(im)
    return kept, decoded


def run_conditions(
    model: Any, pairs: list[Pair], conditions: Sequence[str], batch_size: int,
    skipped: dict[str, int],
) -> list[Pair]:  # fmt: skip
    """Ask the model every prompt; a pair whose answers cannot be read is skipped whole, so
    every condition covers the same pairs (the image effect is a paired difference)."""
    jobs = [(i, cond, k) for i, pr in enumerate(pairs) for cond in conditions
            for k in range(len(pr.prompts[cond]))]  # fmt: skip
    chunk = max(batch_size * 8, 64)
    bad: set[int] = set()
    for start in range(0, len(jobs), chunk):
        part = jobs[start : start + chunk]
        prompts = [pairs[i].prompts[cond][k] for i, cond, k in part]
        offered = [letters_for(len(pairs[i].options)) for i, _, _ in part]
        scores = model.option_logprobs(prompts, offered, normalize="sum", batch_size=batch_size)
        if len(scores) != len(part):
            raise RuntimeError(
                f"option_logprobs returned {len(scores)} rows for {len(part)} prompts"
            )
        for (i, cond, _k), letters, s in zip(part, offered, scores, strict=True):
            if len(s) != len(letters):
                bad.add(i)
                continue
            try:
                pairs[i].dists.setdefault(cond, []).append(letter_distribution(s))
            except ValueError:
                bad.add(i)
    if bad:
        bump(skipped, "model answer: scores do not match the letters offered", len(bad))
    return [pr for i, pr in enumerate(pairs) if i not in bad]
