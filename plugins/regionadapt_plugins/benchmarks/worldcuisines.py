"""WorldCuisines (``worldcuisines/vqa``) read as multiple-choice VQA.

Schema, from the publishers' repository (github.com/worldcuisines/worldcuisines: the
``evaluation/`` scripts and the hub-format rows in ``generate_vqa/generated_data/hf_prompt/``):
configs ``task1`` (dish name) and ``task2`` (dish location), splits ``train``, ``test_small``,
``test_large``; one row per question and language with the columns ``qa_id``, ``lang`` (a tag
such as ``th``, ``id_formal``, ``jv_krama``, ``zh_cn``), ``food_id``, ``prompt_id``,
``prompt_type`` (1 no-context, 2 location, 3 contextualized, 4 adversarial), ``multi_choice_prompt``
(the question, then the options as ``1. ...`` lines, then an answer instruction),
``open_ended_prompt``, ``image_url``, ``answer`` (the right option's text),
``multi_choice_answer`` (1-based), ``task``, ``lang_status``.

The rows carry no image and no country: both live in the knowledge base (``food-kb``, split
``main``), one row per dish with ``image1``..``image8`` (images) beside ``image1_url``..
``image8_url`` and ``Countries`` (a list, or its JSON text in the CSV copy). The publishers'
scripts find a row's picture by its ``image_url`` in the KB; this loader does the same and takes
the dish's first listed country (as their own question generator does) as the row's country,
all of them in ``meta.countries``. Pictures may instead come from a folder of downloaded files
(``image_root``, named as the URL's last path segment).

The hub has no validation split: ``validation`` and ``test`` are disjoint sets of dishes of
``subset`` (by a hash of ``food_id``, ``validation_share`` of them for validation), so no dish is
both chosen on and reported on. The published split names read a split whole.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import Field

from regionadapt.errors import ConfigError
from regionadapt_plugins.benchmarks.base import BenchmarkLoader, LoaderParams, read_local
from regionadapt_plugins.benchmarks.codes import country_code, lang_code

HUB_SPLITS = ("train", "test_small", "test_large")
# The publishers' names for prompt_type (evaluation/score/score.py).
CATEGORIES = {"1": "1a. dish name (no context)", "2": "2. regional cuisine",
              "3": "1b. dish name (contextualized)", "4": "1c. dish name (adversarial)"}  # fmt: skip
# WorldCuisines language tags the shared ISO table lacks (the rest: the tag's first part).
LANGS = {"az": "aze", "sc": "srd", "yo": "yor", "nan": "nan", "yue": "yue"}
_OPTION = re.compile(r"^\s*(\d+)\.\s*(.*?)\s*$")


class WorldCuisinesParams(LoaderParams):
    task: Literal["task1", "task2"] = Field(
        default="task1", description="hub config: task1 (dish name) or task2 (dish location)"
    )
    subset: Literal["test_large", "test_small"] = Field(
        default="test_large", description="the published split that validation/test divide"
    )
    validation_share: float = Field(default=0.3, gt=0, lt=1, description="dishes for validation")
    languages: list[str] | None = Field(
        default=None,
        description="keep these languages only: WorldCuisines tags (th, id_formal) or ISO 639-3",
    )
    kb_hub_id: str = Field(default="worldcuisines/food-kb", description="the knowledge base")
    kb_path: str | None = Field(default=None, description="a local copy of the knowledge base")
    kb_split: str = Field(default="main", description="the knowledge base's split")
    image_root: str | None = Field(
        default=None, description="folder of downloaded pictures, named as their URL's file name"
    )


def parse_prompt(text: str) -> tuple[str, list[str]]:
    """``"Q?\\n1. a\\n2. b\\n\\nPrint only..."`` -> ``("Q?", ["a", "b"])``: the numbered lines
    1, 2, ... after the question are the options; what follows them is the answer instruction.
    No numbered run starting at 1 gives ``(text, [])``."""
    lines = str(text or "").splitlines()
    for start, line in enumerate(lines):
        m = _OPTION.match(line)
        if m and m.group(1) == "1":
            options = []
            for nxt in lines[start:]:
                m = _OPTION.match(nxt)
                if not m or int(m.group(1)) != len(options) + 1:
                    break
                options.append(m.group(2))
            return "\n".join(lines[:start]).strip(), options
    return str(text or "").strip(), []


def wc_lang(tag: Any) -> str:
    """WorldCuisines' ``id_formal``, ``zh_cn``, ``jv_krama`` -> ISO 639-3 (``''`` unknown)."""
    text = str(tag or "").strip().lower()
    if text in LANGS:
        return LANGS[text]
    head = text.split("_")[0]
    return LANGS.get(head) or lang_code(text) or lang_code(head)


def url_file(url: str) -> str:
    """The file name a URL downloads as: its last path segment, percent-decoded."""
    return unquote(Path(urlparse(str(url)).path).name)


def _nfc(text: Any) -> str:
    return unicodedata.normalize("NFC", str(text or "")).strip()


class WorldCuisines(BenchmarkLoader):
    name = "worldcuisines"
    description = (
        "WorldCuisines: multilingual VQA on 2.4k dishes (task1 dish name, task2 location), "
        "multiple choice; country from its knowledge base."
    )
    default_hub_id = "worldcuisines/vqa"
    Params = WorldCuisinesParams

    def config_name(self) -> str | None:
        return self.params.task  # type: ignore[attr-defined]

    def raw_splits(self, split: str) -> list[str]:
        return [split] if split in HUB_SPLITS else [self.params.subset]  # type: ignore[attr-defined]

    def load(self, ctx: Any, split: str) -> Any:
        self._part = None if split in HUB_SPLITS else split
        if self._part not in (None, "validation", "test"):
            raise ConfigError(
                f"{self.name}: no split {split!r}; splits: validation, test (dishes of "
                f"{self.params.subset}), {', '.join(HUB_SPLITS)}"  # type: ignore[attr-defined]
            )
        return super().load(ctx, split)

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        p: WorldCuisinesParams = self.params  # type: ignore[assignment]
        food = str(row["food_id"])
        if self._part and self._which(food) != self._part:
            return []
        tag = str(row.get("lang") or "")
        lang = wc_lang(tag)
        if p.languages and tag not in p.languages and lang not in p.languages:
            return []
        question, options = parse_prompt(row["multi_choice_prompt"])
        k = row.get("multi_choice_answer")
        answer = int(k) - 1 if k not in (None, "") else -1
        if not 0 <= answer < len(options) or _nfc(options[answer]) != _nfc(row.get("answer")):
            answer = -1  # the evaluator counts it: "answer is not among the options"
        url = str(row["image_url"])
        kb = self._kb().get(url, {})
        countries = kb.get("countries", [])
        return [
            {
                "id": f"{p.task}-{raw_split}-{row['qa_id']}-{tag}",
                "image": self._image(url, kb),
                "text": question,
                "options": options,
                "answer": answer,
                "country": country_code(countries[0]) if countries else "",
                "lang": lang,
                "meta": {
                    "category": CATEGORIES.get(str(row.get("prompt_type")), ""),
                    "lang_tag": tag,
                    "food_id": food,
                    "prompt_id": str(row.get("prompt_id", "")),
                    "countries": countries,
                    "task": p.task,
                    "image_url": url,
                    "lang_status": row.get("lang_status") or "",
                },  # fmt: skip
            }
        ]

    def _which(self, food_id: str) -> str:
        h = int.from_bytes(hashlib.sha256(f"worldcuisines:{food_id}".encode()).digest()[:8], "big")
        share = self.params.validation_share  # type: ignore[attr-defined]
        return "validation" if h / 2**64 < share else "test"

    def _image(self, url: str, kb: dict[str, Any]) -> Any:
        root = self.params.image_root  # type: ignore[attr-defined]
        if root:
            path = Path(root).expanduser() / url_file(url)
            return path.read_bytes() if path.is_file() else None
        return kb.get("image")  # None: the evaluator counts "missing image"

    def _kb(self) -> dict[str, dict[str, Any]]:
        """image URL -> {"image": the KB's picture, "countries": [...]}, read once."""
        if "_kb_map" in self.__dict__:
            return self.__dict__["_kb_map"]
        from regionadapt_plugins.benchmarks.published import as_list

        p: WorldCuisinesParams = self.params  # type: ignore[assignment]
        kb = self._read_kb()
        col = next((c for c in ("Countries", "countries") if c in kb.column_names), None)
        if col is None:
            raise ConfigError(
                f"{self.name}: knowledge base {p.kb_path or p.kb_hub_id}: no 'Countries' column "
                f"(columns: {', '.join(kb.column_names)})"
            )
        import datasets

        pics = [f"image{k}" for k in range(1, 9) if f"image{k}_url" in kb.column_names]
        for c in pics:
            if c in kb.column_names and isinstance(kb.features[c], datasets.Image):
                kb = kb.cast_column(c, datasets.Image(decode=False))
        root = Path(p.kb_path).expanduser() if p.kb_path else None
        out: dict[str, dict[str, Any]] = {}
        for row in kb:
            countries = [str(c) for c in as_list(row[col]) if str(c).strip()]
            for c in pics:
                url, pic = row.get(f"{c}_url"), row.get(c)
                if isinstance(pic, str) and root is not None:  # a JSON-lines KB names files
                    pic = (root / pic).read_bytes() if (root / pic).is_file() else None
                if url:
                    out[str(url)] = {"image": pic, "countries": countries}
        self.__dict__["_kb_map"] = out
        return out

    def _read_kb(self) -> Any:
        import datasets

        p: WorldCuisinesParams = self.params  # type: ignore[assignment]
        if p.kb_path:
            root = Path(p.kb_path).expanduser()
            if (root / "dataset_dict.json").is_file():
                dd = datasets.load_from_disk(str(root))
                if p.kb_split not in dd:
                    raise ConfigError(f"{root}: no split {p.kb_split!r}; splits: {', '.join(dd)}")
                return dd[p.kb_split]
            return read_local(root, p.kb_split)
        return datasets.load_dataset(p.kb_hub_id, split=p.kb_split)
