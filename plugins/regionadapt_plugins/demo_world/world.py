"""The demo world for one region pack: its concepts, its data pool and its benchmarks.

Everything is generated from (pack, seed): two runs with the same inputs see the same world.
Splits use separate random streams: the training pool, the validation benchmark (used to choose
the merge ratio) and the test benchmark (reported) never share a picture.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from regionadapt.errors import StageError
from regionadapt.samples import new_sample
from regionadapt_plugins.demo_world.concepts import (
    DISTRACTORS,
    Concept,
    assign_signatures,
    global_concepts,
)
from regionadapt_plugins.demo_world.render import draw, png_bytes

SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}
# Countries that global (everyday) photos are taken in: the pack's own share is realistic, not 0.
WORLD_COUNTRIES = ("US", "DE", "BR", "IN", "NG", "JP", "FR", "MX", "EG", "GB", "CN", "AU")
LICENSE = "CC0-1.0 (generated)"
MIN_REGIONAL = 4
# English phrasings the regional benchmark asks with and the training pool never uses (it
# captions with the bare name or "a photo of <name>").
UNSEEN_TEMPLATES = ("an image of {}", "{}, seen up close", "a picture showing {}")


def _lang_for(c: Concept, lang: str) -> str:
    """``lang`` if the concept has a name in it, else English, else its first language."""
    return lang if lang in c.forms else ("eng" if "eng" in c.forms else sorted(c.forms)[0])


def training_forms(forms: tuple[str, ...]) -> tuple[str, ...]:
    """The names the training pool uses: all but the last when there are several (the last
    is held out for the regional benchmark, a phrasing tuning never saw)."""
    return forms[:-1] if len(forms) > 1 else forms


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


@dataclass
class DemoWorld:
    pack: object  # RegionPack
    seed: int = 0
    regional_concepts: int = 24
    image_size: int = 32

    @cached_property
    def global_(self) -> list[Concept]:
        # Pack-independent: the cached base model is pretrained on exactly these.
        return global_concepts()

    @cached_property
    def regional(self) -> list[Concept]:
        entries = self._pick_entries()
        taken = {c.signature for c in self.global_}
        sigs = assign_signatures([e.id for e in entries], taken, self.seed)
        return [
            Concept(
                id=e.id,
                kind="regional",
                signature=sigs[e.id],
                forms={lang: tuple(forms) for lang, forms in e.forms.items()},
                countries=tuple(e.countries),
                category=e.category,
            )
            for e in entries
        ]

    @cached_property
    def distractors(self) -> list[Concept]:
        own = set(self.pack.country_codes)
        items = [d for d in DISTRACTORS if d[2] not in own]
        taken = {c.signature for c in self.global_ + self.regional}
        sigs = assign_signatures([d[0] for d in items], taken, self.seed + 1)
        return [Concept(i, "distractor", sigs[i], {"eng": (name,)}, (cc,)) for i, name, cc in items]

    def _pick_entries(self):
        """Spread the chosen lexicon entries over categories, languages and countries (round
        robin): every pack language the lexicon has names in gets a regional concept, so the
        regional benchmark asks in every one of them."""
        lexicon = list(self.pack.lexicon)
        if len(lexicon) < MIN_REGIONAL:
            raise StageError(
                f"region pack {self.pack.id!r} has {len(lexicon)} lexicon entries; the demo world "
                f"needs at least {MIN_REGIONAL} (add [[lexicon]] entries to the pack)"
            )
        rng = random.Random(_seed("pick", self.pack.id, self.seed))
        by_cat: dict[str, list] = {}
        for e in sorted(lexicon, key=lambda e: e.id):
            by_cat.setdefault(e.category, []).append(e)
        for group in by_cat.values():
            rng.shuffle(group)
        picked, seen_countries, seen_langs = [], set(), set()

        def novelty(e) -> tuple[bool, bool]:
            # An entry naming a language not yet represented first, then a new country.
            return (bool(set(e.forms) - seen_langs), bool(set(e.countries) - seen_countries))

        while len(picked) < min(self.regional_concepts, len(lexicon)):
            for cat in sorted(by_cat):
                group = by_cat[cat]
                if not group:
                    continue
                best = max(novelty(e) for e in group)
                e = group.pop(next(i for i, e in enumerate(group) if novelty(e) == best))
                picked.append(e)
                seen_countries |= set(e.countries)
                seen_langs |= set(e.forms)
                if len(picked) == min(self.regional_concepts, len(lexicon)):
                    break
        return picked

    # -- pictures ---------------------------------------------------------------------------
    def picture(self, concept: Concept, rng: np.random.Generator) -> bytes:
        return png_bytes(draw(concept.signature, rng, self.image_size))

    # -- the collect stage's pool -----------------------------------------------------------
    def pool(self, per_regional: int = 60, per_global: int = 20, per_distractor: int = 15,
             corrupt: int = 5, global_in_region: float = 0.05):  # fmt: skip
        """Yields samples: regional (in the pack's countries and languages), global (everyday
        things photographed worldwide, the pack's countries included), distractors (from
        elsewhere) and a few corrupt images (the filter stage must count, not crash).
        ``global_in_region`` is the share of everyday photos taken in the pack's countries: the
        region filter keeps them, so they rehearse global concepts during tuning."""
        rng = np.random.default_rng(_seed("pool", self.pack.id, self.seed))
        prng = random.Random(_seed("pool-text", self.pack.id, self.seed))
        n = 0
        for c in self.regional:
            langs = sorted(c.forms)
            for _ in range(per_regional):
                lang = prng.choice(langs)
                form = prng.choice(training_forms(c.forms[lang]))
                text = f"a photo of {form}" if lang == "eng" and prng.random() < 0.5 else form
                yield self._sample(n, c, rng, text, lang, prng.choice(c.countries))
                n += 1
        pack_countries = self.pack.country_codes
        for c in self.global_:
            for _ in range(per_global):
                country = (
                    prng.choice(pack_countries)
                    if prng.random() < global_in_region
                    else prng.choice(WORLD_COUNTRIES)
                )
                yield self._sample(n, c, rng, f"a photo of a {c.forms['eng'][0]}", "eng", country)
                n += 1
        for c in self.distractors:
            for _ in range(per_distractor):
                yield self._sample(
                    n, c, rng, f"a photo of {c.forms['eng'][0]}", "eng", c.countries[0]
                )
                n += 1
        for i in range(corrupt):
            c = self.regional[i % len(self.regional)]
            s = self._sample(n, c, rng, c.forms["eng"][0] if "eng" in c.forms else c.id, "eng",
                             c.countries[0])  # fmt: skip
            s["image"] = s["image"][: len(s["image"]) // 3]  # truncated PNG
            s["meta"] = s["meta"][:-1] + ', "corrupt": true}'
            yield s
            n += 1

    def _sample(self, n: int, c: Concept, rng, text: str, lang: str, country: str) -> dict:
        return new_sample(
            id=f"demo-{self.pack.id}-{n:06d}",
            image=self.picture(c, rng),
            text=text,
            lang=lang,
            country=country,
            source="demo-world",
            url=f"demo-world://{self.pack.id}/{c.kind}/{c.id}",
            license=LICENSE,
            meta={
                "concept": c.id,
                "kind": c.kind,
                "category": c.category,
                "lexicon_id": c.id if c.kind == "regional" else "",
            },  # fmt: skip
        )

    # -- benchmarks ---------------------------------------------------------------------------
    def regional_benchmark(self, split: str, per_concept: int = 8, options: int = 8) -> list[dict]:
        """Multiple choice: a picture of a regional concept, its name among ``options`` names.

        Built not to saturate, so that base, tuned and each merge differ on the regional axis:
        - the wrong names are, where possible, of concepts *confusable* with the right one
          (sharing its shape or its colour), the rest drawn at random;
        - the names are phrased as tuning never saw them: a held-out synonym where the lexicon
          has several, else an unseen template in English, else the bare name;
        - the asked language cycles over every language the concept has a name in, so every
          pack language with lexicon names is asked. Wrong names come in the same language
          where enough concepts have one, else in English.
        """
        rng = np.random.default_rng(
            _seed("bench-regional", self.pack.id, self.seed, SPLIT_SEEDS[split])
        )
        prng = random.Random(
            _seed("bench-regional-text", self.pack.id, self.seed, SPLIT_SEEDS[split])
        )
        options = min(options, len(self.regional))
        rows = []
        for c in self.regional:
            langs = sorted(c.forms)
            offset = prng.randrange(len(langs))
            for k in range(per_concept):
                lang = langs[(k + offset) % len(langs)]
                wrong = self._confusable(c, options - 1, lang, prng)
                opts = [self._phrase(o, _lang_for(o, lang), prng) for o in [c, *wrong]]
                if len(set(opts)) < len(opts):  # two concepts share a name: ask in English
                    opts = [self._phrase(o, _lang_for(o, "eng"), prng) for o in [c, *wrong]]
                order = list(range(len(opts)))
                prng.shuffle(order)
                rows.append({
                    "id": f"demo-{self.pack.id}-{split}-r{len(rows):05d}",
                    "image": self.picture(c, rng),
                    "text": "",
                    "options": [opts[i] for i in order],
                    "answer": order.index(0),
                    "label": "",
                    "reference": "",
                    "country": prng.choice(c.countries),
                    "lang": lang,
                    "meta": f'{{"concept": "{c.id}", "category": "{c.category}"}}',
                })  # fmt: skip
        return rows

    def _confusable(self, c: Concept, n: int, lang: str, prng: random.Random) -> list[Concept]:
        """``n`` other regional concepts: up to half sharing c's shape or colour, the rest any;
        within each, those with a name in ``lang`` first (a lone name in the asked language
        among English ones would give the answer away)."""
        others = [o for o in self.regional if o.id != c.id]
        prng.shuffle(others)
        others.sort(key=lambda o: lang not in o.forms)  # stable: random within each tier
        close = [
            o
            for o in others
            if o.signature.shape == c.signature.shape or o.signature.colour == c.signature.colour
        ]
        hard = close[: (n + 1) // 2]
        return hard + [o for o in others if o not in hard][: n - len(hard)]

    @staticmethod
    def _phrase(c: Concept, lang: str, prng: random.Random) -> str:
        forms = c.forms[lang]
        held_out = forms[len(training_forms(forms)) :]
        if held_out:
            return prng.choice(held_out)
        if lang == "eng":
            return prng.choice(UNSEEN_TEMPLATES).format(forms[0])
        return forms[0]

    def global_benchmark(self, split: str, per_concept: int = 10) -> list[dict]:
        """Zero-shot classification over the everyday concepts, English class names."""
        rng = np.random.default_rng(_seed("bench-global", self.seed, SPLIT_SEEDS[split]))
        prng = random.Random(_seed("bench-global-c", self.seed, SPLIT_SEEDS[split]))
        rows = []
        for c in self.global_:
            for _ in range(per_concept):
                rows.append({
                    "id": f"demo-global-{split}-g{len(rows):05d}",
                    "image": self.picture(c, rng),
                    "text": f"a photo of a {c.id}",
                    "options": [],
                    "answer": -1,
                    "label": c.id,
                    "reference": "",
                    "country": prng.choice(WORLD_COUNTRIES),
                    "lang": "eng",
                    "meta": f'{{"concept": "{c.id}"}}',
                })  # fmt: skip
        return rows

    def global_training_set(self, n_per_concept: int) -> list[dict]:
        """The global part the demo base model is pretrained on (never shown to tuning)."""
        rng = np.random.default_rng(_seed("pretrain", self.seed))
        prng = random.Random(_seed("pretrain-text", self.seed))
        templates = ("a photo of a {}", "a {}", "a picture of a {}", "{}", "an image of a {}")
        out = []
        for c in self.global_:
            for _ in range(n_per_concept):
                out.append({"image": self.picture(c, rng),
                            "text": prng.choice(templates).format(c.id)})  # fmt: skip
        return out
