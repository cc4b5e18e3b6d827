"""Any benchmark in VLMEvalKit's TSV layout, read as multiple choice.

The layout (one row per question): ``index``, ``image`` (base64; or, for a repeated image, the
``index`` of the row that holds it), optional ``image_path``, ``question``, option columns
``A``, ``B``, ``C``, ``D`` (more letters allowed, empty cells mean no such option), ``answer``
(a letter), optional ``hint``, ``category``, ``l2-category``, ``split``, ``country``,
``language``. So a user's existing VLMEvalKit data works as is.
"""

from __future__ import annotations

import base64
import binascii
import csv
import sys
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from regionadapt.components import Context, DatasetLoader
from regionadapt.errors import ConfigError
from regionadapt.schema import Strict
from regionadapt_plugins.benchmarks.codes import country_code, lang_code

LETTERS = "ABCDEFGHIJ"


class TsvParams(Strict):
    path: str = Field(description="the .tsv file (a folder: <split>.tsv inside it)")
    image_root: str | None = Field(
        default=None, description="folder for an image_path column (rows without base64)"
    )
    country: str = Field(default="", description="ISO 3166-1 alpha-2 for rows without one")
    lang: str = Field(default="", description="ISO 639-3 for rows without a language")
    limit: int | None = Field(default=None, ge=1, description="keep the first N rows")


class VLMEvalKitTSV(DatasetLoader):
    name = "vlmevalkit-tsv"
    description = (
        "A multiple-choice benchmark in VLMEvalKit's TSV layout (question, A/B/C/D, answer "
        "letter, category, base64 image)."
    )
    Params: ClassVar[type[Strict]] = TsvParams

    def load(self, ctx: Context, split: str) -> Any:
        import datasets

        from regionadapt_plugins.benchmarks.base import features, finish

        p: TsvParams = self.params  # type: ignore[assignment]
        path = Path(p.path).expanduser()
        if path.is_dir():
            path = path / f"{split}.tsv"
        if not path.is_file():
            raise ConfigError(f"vlmevalkit-tsv: {path} not found")
        raw = read_tsv(path)
        if p.limit:
            raw = raw[: p.limit]
        by_index = {str(r.get("index", "")): r for r in raw}
        out = [finish(self._row(r, n, by_index, path)) for n, r in enumerate(raw, 2)]
        return datasets.Dataset.from_list(out, features=features())

    def _row(self, r: dict[str, str], line: int, by_index: dict, path: Path) -> dict[str, Any]:
        p: TsvParams = self.params  # type: ignore[assignment]
        options = [r[c] for c in LETTERS if (r.get(c) or "").strip()]
        answer = (r.get("answer") or "").strip().upper()
        # An answer that is not one of the present letters stays -1: the evaluator skips the
        # row and counts it ("answer is not among the options"), never scores it.
        index = (
            LETTERS.index(answer) if len(answer) == 1 and answer in LETTERS[: len(options)] else -1
        )
        question = r.get("question") or ""
        if (r.get("hint") or "").strip():
            question = f"Hint: {r['hint'].strip()}\n{question}"
        meta = {k: r[k] for k in ("category", "l2-category", "split") if r.get(k)}
        return {
            "id": r.get("index") or f"{path.stem}-{line}",
            "image": self._image(r, by_index, f"{path}:{line}"),
            "text": question,
            "options": options,
            "answer": index,
            "country": country_code(r.get("country")) or p.country,
            "lang": lang_code(r.get("language") or r.get("lang")) or p.lang,
            "meta": meta,
        }

    def _image(self, r: dict[str, str], by_index: dict, where: str) -> bytes | None:
        p: TsvParams = self.params  # type: ignore[assignment]
        value = (r.get("image") or "").strip()
        if value and len(value) <= 64 and value in by_index and by_index[value] is not r:
            value = (by_index[value].get("image") or "").strip()  # a repeated image
        if value:
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError(f"{where}: the image cell is not base64") from None
        ref = (r.get("image_path") or "").strip()
        if ref and p.image_root:
            file = Path(p.image_root).expanduser() / ref
            if file.is_file():
                return file.read_bytes()
        return None  # counted by the evaluator as "missing image"


def read_tsv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)  # base64 images are long cells
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if not reader.fieldnames or "question" not in reader.fieldnames:
            raise ConfigError(
                f"{path}: expected VLMEvalKit TSV columns (index, image, question, A, B, ..., "
                f"answer); got {reader.fieldnames}"
            )
        return [dict(row) for row in reader]
