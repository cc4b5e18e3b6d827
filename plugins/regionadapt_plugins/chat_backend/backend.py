"""The ``transformers`` Backend component: vision-language chat models (architecture ``lvlm``).

Checkpoints are ``save_pretrained`` folders (safetensors weights, config, generation config,
processor, chat template), so the merge engine combines ``model*.safetensors`` tensor by tensor
and copies the rest; every output loads with ``from_pretrained``. LoRA tuning also leaves the
adapter unfused in ``<tune>/adapter``: the merge at ratio b is that adapter at scale b.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from regionadapt.components import ADAPTER_DIR, Backend, Context
from regionadapt.handles import ChatModel
from regionadapt.schema import Strict
from regionadapt_plugins.chat_backend.params import ModelParams, TuneParams

# Written next to the weights: how to load the folder again (trust_remote_code, dtype).
LOAD_INFO = "regionadapt_lvlm.json"
# Written into the adapter folder: whether the adapter alone is the whole tuning delta.
ADAPTER_INFO = "regionadapt_adapter.json"
# Hub-id fragments of chat-VLM families (``init --model X`` without --arch picks lvlm on them).
VLM_NAMES = ("llava", "-vl", "gemma-3", "paligemma", "idefics", "smolvlm", "internvl", "pixtral",
             "molmo", "aya-vision")  # fmt: skip


def _load_info(folder: Path) -> dict[str, Any]:
    path = Path(folder) / LOAD_INFO
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_handle(spec: str | Path, **overrides: Any) -> Any:
    """A :class:`ChatModel` handle for a folder (or hub id), as the folder says to load it."""
    from regionadapt_plugins.chat_backend.handle import TransformersChatModel
    from regionadapt_plugins.chat_backend.model import load_model, load_processor

    info = {**(_load_info(Path(spec)) if Path(spec).is_dir() else {}), **overrides}
    trust = bool(info.get("trust_remote_code", False))
    processor = load_processor(spec, revision=info.get("revision"), trust_remote_code=trust)
    model = load_model(spec, revision=info.get("revision"), trust_remote_code=trust,
                       precision=info.get("precision", "fp32"))  # fmt: skip
    return TransformersChatModel(model, processor, str(spec))


class TransformersChatBackend(Backend):
    name = "transformers"
    arch = "lvlm"
    description = (
        "Vision-language chat models through transformers (AutoModelForImageTextToText: LLaVA, "
        "Qwen2-VL, Gemma-3...): assistant-only supervised tuning, LoRA on the language model "
        "(vision tower frozen) or full, under accelerate; option log-likelihood scoring."
    )
    ModelParams: ClassVar[type[Strict]] = ModelParams
    TuneParams: ClassVar[type[Strict]] = TuneParams
    handle = ChatModel
    merge_grid = (0.05, 0.1, 0.5, 0.7)
    recipe = (
        "GG-EZ paper, Gemma-3: batch 64, lr 2e-5, 3 epochs, AdamW + linear decay; here LoRA on "
        "the language model, vision tower frozen"
    )

    @classmethod
    def recognises(cls, model: str) -> bool:
        """A local folder whose config has a vision and a text part, or a hub id naming a
        known chat-VLM family (cheap: no download)."""
        config = Path(model).expanduser() / "config.json"
        if config.is_file():
            try:
                cfg = json.loads(config.read_text(encoding="utf-8"))
            except ValueError:
                return False
            return "vision_config" in cfg and "text_config" in cfg
        name = model.lower()
        return "/" in name and any(k in name for k in VLM_NAMES)

    def prepare_base(self, ctx: Context, model: ModelParams, out_dir: Path) -> None:
        from regionadapt_plugins.chat_backend.model import load_model, load_processor, save_model

        ctx.log(f"transformers: loading base chat model {model.model}")
        processor = load_processor(model.model, revision=model.revision,
                                   trust_remote_code=model.trust_remote_code,
                                   chat_template=model.chat_template)  # fmt: skip
        net = load_model(model.model, revision=model.revision,
                         trust_remote_code=model.trust_remote_code, precision=model.precision,
                         device="cpu")  # fmt: skip
        save_model(net, processor, Path(out_dir))
        info = {"trust_remote_code": model.trust_remote_code, "precision": model.precision,
                "source": model.model}  # fmt: skip
        (Path(out_dir) / LOAD_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")

    def tune(
        self, ctx: Context, params: TuneParams, base_dir: Path, train_data: Path, out_dir: Path
    ) -> dict[str, Any]:
        from regionadapt_plugins.chat_backend.model import load_model, load_processor, save_model
        from regionadapt_plugins.chat_backend.train import train_chat

        base_dir, out_dir = Path(base_dir), Path(out_dir)
        info = _load_info(base_dir)
        trust = bool(info.get("trust_remote_code", False))
        processor = load_processor(base_dir, trust_remote_code=trust)
        model = load_model(base_dir, trust_remote_code=trust)  # fp32 master weights
        state_dir = self._state_dir(ctx, params, base_dir, train_data)
        net, summary = train_chat(model, processor, Path(train_data), params, ctx.log,
                                  state_dir=state_dir)  # fmt: skip
        if params.method == "lora":
            adapter = out_dir.parent / ADAPTER_DIR
            net.save_pretrained(str(adapter))
            exact = not (params.train_projector or params.train_vision
                         or params.trainable_tokens != "none")  # fmt: skip
            (adapter / ADAPTER_INFO).write_text(json.dumps({"exact": exact}), encoding="utf-8")
            net = net.merge_and_unload()
        save_model(net, processor, out_dir)
        if info:
            (out_dir / LOAD_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
        if state_dir is not None:  # finished: nothing left to resume
            import shutil

            shutil.rmtree(state_dir, ignore_errors=True)
        return summary

    def _state_dir(
        self, ctx: Context, params: TuneParams, base_dir: Path, train_data: Path
    ) -> Path | None:
        # Outside the stage's temporary folder (removed when a killed stage restarts), keyed by
        # what shapes the run (params, the base's config and source, the data), so a resumed
        # run continues only the same training.
        if ctx.run is None:
            return None
        from regionadapt.rundir import hash_json

        base = [(Path(base_dir) / f).read_text(encoding="utf-8")
                for f in ("config.json", LOAD_INFO) if (Path(base_dir) / f).is_file()]  # fmt: skip
        key = hash_json([params.model_dump(mode="json"), base, str(Path(train_data).resolve())])
        return Path(ctx.run.root) / "tune-state" / key

    def mergeable_files(self, ckpt_dir: Path) -> list[str]:
        from regionadapt_plugins.chat_backend.model import weight_files

        return weight_files(Path(ckpt_dir))

    def load(self, spec: str | Path) -> Any:
        return load_handle(spec)

    def unload(self, handle: Any) -> None:
        handle.model = None
        super().unload(handle)

    def interpolate(self, base_dir: Path, tuned_dir: Path, b: float) -> Any | None:
        """The base with the unfused adapter at scale ``b``: W + b * s * B @ A, which is the
        linear merge at b. None when there is no adapter, or it is not the whole delta (a
        projector, vision tower or token rows trained beside it)."""
        adapter = Path(tuned_dir).parent / ADAPTER_DIR
        meta = adapter / ADAPTER_INFO
        if not meta.is_file() or not json.loads(meta.read_text(encoding="utf-8")).get("exact"):
            return None
        from peft import PeftModel
        from peft.tuners.lora import LoraLayer

        handle = load_handle(base_dir)
        peft_model = PeftModel.from_pretrained(handle.model.float(), str(adapter))
        for module in peft_model.modules():
            if isinstance(module, LoraLayer):
                for name in module.scaling:
                    module.scaling[name] *= float(b)
        handle.model = peft_model.merge_and_unload().eval()
        return handle
