"""Loaders for published benchmarks, each mapping its real columns to the benchmark schema.

Column names were read from each data set's hub card (``dataset_info.features``) where one
exists; docs/evaluation.md lists the mapping and says which parts could not be verified.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from regionadapt.errors import ConfigError
from regionadapt_plugins.benchmarks.base import BenchmarkLoader, LoaderParams
from regionadapt_plugins.benchmarks.codes import country_code, lang_code


def as_list(value: Any) -> list[Any]:
    """A list cell, or a list stored as text (JSON or a Python literal)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    text = str(value).strip()
    if not text:
        return []
    for parse in (json.loads, ast.literal_eval):
        try:
            out = parse(text)
        except (ValueError, SyntaxError):
            continue
        if isinstance(out, (list, tuple)):
            return list(out)
    return [text]


def image_from(row: dict[str, Any], root: str | None, where: str, *cols: str) -> Any:
    """The first present image column, else a file named by ``image_path`` under ``root``."""
    for col in cols:
        if row.get(col) is not None:
            return row[col]
    ref = row.get("image_path")
    if ref and root:
        path = Path(root).expanduser() / str(ref)
        if not path.is_file():
            path = Path(root).expanduser() / Path(str(ref)).name
        if path.is_file():
            return path.read_bytes()
        raise ConfigError(f"{where}: image file for {ref!r} not found under {root}")
    raise ConfigError(
        f"{where}: no image bytes (columns {', '.join(cols)}) and no image_root to resolve "
        f"image_path {ref!r}; download the images and set dataset_params.image_root"
    )


class ImageRootParams(LoaderParams):
    image_root: str | None = Field(
        default=None, description="folder holding the files named by the image_path column"
    )


class DollarStreet(BenchmarkLoader):
    name = "dollar-street"
    description = (
        "Dollar Street (MLCommons): everyday objects in homes of every income level; "
        "zero-shot classification with meta.income (USD/month) for income bins."
    )
    default_hub_id = "nlphuji/dollar_street_test"
    label_rows = True

    class Params(LoaderParams):
        label_from: Literal["topics", "imagenet_synonyms"] = "topics"

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        labels = as_list(row.get(self.params.label_from))
        income = row.get("income")
        try:
            income = float(income) if income not in (None, "") else None
        except (TypeError, ValueError):
            income = None  # reported per group by the evaluator
        country = country_code(row.get("country.id")) or country_code(row.get("country.name"))
        return [
            {
                "id": row.get("id", i),
                "image": row["image"],
                "label": str(labels[0]) if labels else "",
                "country": country,
                "meta": {
                    "income": income,
                    "region": row.get("region.id") or "",
                    "place": row.get("place") or "",
                    "topics": as_list(row.get("topics")),
                },
            }
        ]


class GeoDE(BenchmarkLoader):
    name = "geode"
    description = "GeoDE: 40 object classes photographed in 19 countries of 6 regions."
    default_hub_id = "MLap/GeoDE"
    label_rows = True
    split_map: ClassVar[dict[str, str]] = {"test": "train"}  # the mirror has one split

    def raw_splits(self, split: str) -> list[str]:
        return [split] if self.params.path else [self.split_map.get(split, split)]

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        return [
            {
                "id": row.get("id", f"geode-{i}"),
                "image": row["image"],
                "label": str(row["object"]).replace("_", " "),
                "country": country_code(row.get("ip_country")),
                "meta": {"region": row.get("region") or "", "country_name": row.get("ip_country")},
            }
        ]


class GLDv2(BenchmarkLoader):
    name = "gldv2"
    description = "Google Landmarks v2 subset: landmark recognition as zero-shot classification."
    default_hub_id = ""  # no canonical hub copy: set path (or hub_id)
    label_rows = True

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        name = row.get("landmark_name") or row.get("name") or row["landmark_id"]
        return [
            {
                "id": row.get("id", i),
                "image": row["image"],
                "label": str(name).replace("_", " "),
                "country": country_code(row.get("country")),
                "meta": {
                    "landmark_id": str(row.get("landmark_id", "")),
                    "category": row.get("category") or "",
                },
            }
        ]


XM3600_LANGS = (
    "ar bn cs da de el en es fa fi fil fr hi hr hu id it he ja ko mi nl no pl pt quz ro ru sv "
    "sw te th tr uk vi zh"
).split()


class XM3600(BenchmarkLoader):
    name = "xm3600"
    description = "Crossmodal-3600: 3600 images with captions in 36 languages; retrieval."
    default_hub_id = "floschne/xm3600"

    class Params(LoaderParams):
        languages: list[str] = Field(default_factory=lambda: list(XM3600_LANGS), min_length=1)

    def raw_splits(self, split: str) -> list[str]:
        return list(self.params.languages)  # the hub's splits are the languages

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        image_id = str(row["image_id"])
        meta = {"image_id": image_id, "image_locale": row.get("image_locale") or ""}
        return [
            {
                "id": f"{image_id}-{raw_split}-{k}",
                "image": row["image"],
                "text": caption,
                "lang": lang_code(raw_split),
                "meta": meta,
            }
            for k, caption in enumerate(as_list(row["captions"]))
        ]


MARVL_COUNTRY = {"id": "ID", "tr": "TR", "zh": "CN"}  # sw, ta: more than one country


class MaRVL(BenchmarkLoader):
    name = "marvl"
    description = "MaRVL concepts (id, sw, ta, tr, zh): each image's concept, zero-shot."
    default_hub_id = "floschne/marvl"
    label_rows = True

    class Params(LoaderParams):
        languages: list[str] = Field(default_factory=lambda: ["id", "sw", "ta", "tr", "zh"])

    def raw_splits(self, split: str) -> list[str]:
        return list(self.params.languages)

    def convert(self, raw: Any, where: str, raw_split: str) -> Any:
        self._seen: set[str] = set()  # each image once, though it appears in several pairs
        return super().convert(raw, where, raw_split)

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        out = []
        lang = row.get("language") or raw_split
        for side in ("left", "right"):
            image_id = str(row[f"{side}_img_id"])
            if image_id in self._seen:
                continue
            self._seen.add(image_id)
            out.append(
                {
                    "id": image_id,
                    "image": row[f"{side}_img"],
                    "label": str(row["concept"]),
                    "lang": lang_code(lang),
                    "country": MARVL_COUNTRY.get(str(lang), ""),
                    "meta": {"image_id": image_id, "chapter": row.get("chapter") or ""},
                }
            )
        return out


class CVQA(BenchmarkLoader):
    name = "cvqa"
    description = "CVQA: culturally diverse multilingual VQA, 30 countries; multiple choice."
    default_hub_id = "afaji/cvqa"

    class Params(LoaderParams):
        english: bool = Field(default=False, description="use the translated English text")

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        language, country = parse_subset(row.get("Subset"))
        en = self.params.english
        question = row.get("Translated Question" if en else "Question") or ""
        options = [str(o) for o in as_list(row.get("Translated Options" if en else "Options"))]
        label = row.get("Label")
        return [
            {
                "id": row.get("ID", i),
                "image": row["image"],
                "text": question,
                "options": options,
                "answer": int(label) if label is not None else -1,
                "country": country_code(country),
                "lang": "eng" if en else lang_code(language),
                "meta": {
                    "subset": str(row.get("Subset") or ""),
                    "category": row.get("Category") or "",
                },
            }
        ]


def parse_subset(value: Any) -> tuple[str, str]:
    """CVQA's Subset, e.g. "('Javanese', 'Indonesia')" -> ('Javanese', 'Indonesia')."""
    parts = as_list(value)
    if len(parts) == 1 and isinstance(parts[0], str):
        parts = [p.strip(" '\"") for p in parts[0].strip("()").split(",")]
    if len(parts) >= 2:
        return str(parts[0]), str(parts[1])
    return "", ""


SEA_VQA_COUNTRIES = {
    "cambodia": "KH", "indonesia": "ID", "laos": "LA", "malaysia": "MY",
    "philippines": "PH", "singapore": "SG", "thailand": "TH", "vietnam": "VN",
}  # fmt: skip


class SeaVQA(BenchmarkLoader):
    name = "sea-vqa"
    description = "SEA-VQA: Southeast Asian cultural VQA, one split per country; multiple choice."
    default_hub_id = "wit543/sea-vqa"

    class Params(ImageRootParams):
        countries: list[str] = Field(default_factory=lambda: list(SEA_VQA_COUNTRIES))

    def raw_splits(self, split: str) -> list[str]:
        return list(self.params.countries)  # the hub's splits are the countries

    def map_row(self, row: dict[str, Any], i: int, raw_split: str) -> list[dict[str, Any]]:
        options = [str(row[f"choice_{c}"]) for c in "abcd" if row.get(f"choice_{c}")]
        return [
            {
                "id": f"{raw_split}-{i}",
                "image": image_from(
                    row, self.params.image_root, f"sea-vqa {raw_split} item {i}", "image"
                ),
                "text": row["question"],
                "options": options,
                "answer": answer_index(row.get("correct_answer"), options),
                "country": SEA_VQA_COUNTRIES.get(raw_split, country_code(raw_split)),
                "lang": "eng",
                "meta": {
                    "image_page": row.get("image_page") or "",
                    "copyright": row.get("copyright") or "",
                },
            }
        ]


def answer_index(answer: Any, options: list[str]) -> int:
    """A 0-based int, a letter ('b', 'B', '(b)', 'choice_b') or the option text -> index."""
    if answer is None:
        return -1
    if isinstance(answer, int):
        return answer
    text = str(answer).strip()
    if text in options:
        return options.index(text)
    letter = text.lower().removeprefix("choice_").strip("() .")
    if len(letter) == 1 and "a" <= letter <= "z":
        k = ord(letter) - ord("a")
        return k if k < len(options) else -1
    return -1


LOADERS = (DollarStreet, GeoDE, GLDv2, XM3600, MaRVL, CVQA, SeaVQA)
