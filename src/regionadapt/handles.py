"""What a loaded model can do, per architecture: the protocols evaluators program against.

A backend's ``load(spec)`` returns a *handle*; the backend names the protocol it satisfies in
``Backend.handle`` and each evaluator names the one it needs in ``Evaluator.needs``. The project
checks the pair when it opens (an error names the benchmark), and the backend contract test checks
``isinstance(handle, Backend.handle)`` on a real loaded model.

Nothing here imports torch: tensors and images are typed ``Any``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable


@runtime_checkable
class EmbeddingModel(Protocol):
    """A two-tower image-text embedding model (CLIP, SigLIP...)."""

    def encode_images(self, images: Sequence[Any], batch_size: int = 64) -> Any:
        """PIL images -> float tensor ``[N, D]``, each row L2-normalised."""
        ...

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> Any:
        """Texts -> float tensor ``[N, D]``, each row L2-normalised."""
        ...


@runtime_checkable
class ImageGenerator(Protocol):
    """A text-to-image model (a diffusers pipeline...)."""

    def generate(
        self,
        prompts: Sequence[str],
        seed: int,
        *,
        batch_size: int = 8,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
    ) -> list[Any]:
        """One PIL image per prompt. Image ``i`` is drawn from the generator seeded with
        ``seed + i``, so a re-run, or a run on a subset in the same order, draws the same images;
        ``None`` means the model's own default for that setting."""
        ...


@dataclass
class ChatPrompt:
    """One user turn for a chat model: its text and the images shown with it (before the text)."""

    text: str
    images: list[Any] = field(default_factory=list)  # PIL images
    system: str | None = None


@runtime_checkable
class ChatModel(Protocol):
    """A vision-language chat model (LLaVA, Qwen2-VL, Gemma-3...)."""

    def generate(
        self, prompts: Sequence[ChatPrompt], *, max_new_tokens: int = 64, batch_size: int = 8
    ) -> list[str]:
        """Greedy completion of the assistant turn for each prompt (special tokens removed)."""
        ...

    def option_logprobs(
        self,
        prompts: Sequence[ChatPrompt],
        options: Sequence[Sequence[str]],
        *,
        normalize: Literal["mean", "sum"] = "mean",
        batch_size: int = 8,
    ) -> list[list[float]]:
        """For prompt ``i``, the log-likelihood of each of ``options[i]`` as the whole assistant
        answer (the end-of-turn token included): summed over its tokens (``sum``) or their mean
        (``mean``, length-normalised, so long names are not penalised)."""
        ...


HANDLES: dict[str, type] = {"embedding": EmbeddingModel, "t2i": ImageGenerator, "lvlm": ChatModel}


def handle_name(protocol: type | None) -> str:
    return "any model" if protocol is None else protocol.__name__
