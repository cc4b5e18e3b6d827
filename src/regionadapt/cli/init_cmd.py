"""``regionadapt init``: write a documented regionadapt.toml for one or more architectures."""

from __future__ import annotations

from pathlib import Path

import typer

from regionadapt.errors import ConfigError


def guess_arch(model: str) -> str:
    """The architecture whose backend recognises ``model`` (a hub id or a folder); embedding
    when none or several do (the user can always say ``--arch``)."""
    from regionadapt.plugins import registry

    claims = sorted({cls.arch for _, cls in registry("backends").items() if cls.recognises(model)})
    if len(claims) > 1:
        raise ConfigError(
            f"--model {model!r} could be for {' or '.join(claims)}: say which with --arch"
        )
    return claims[0] if claims else "embedding"


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        region: str = typer.Option("sea", help="Region pack id or path to a pack .toml."),
        arch: list[str] = typer.Option(
            None,
            "--arch",
            help="Architecture(s) to configure: embedding, t2i, lvlm; repeat for several "
            "(default: embedding, or what --model is recognised as).",
        ),
        model: str = typer.Option(
            None,
            help="A real model for the (single) architecture: a hub id or a local folder "
            "(open_clip: hf-hub:org/name or an architecture name). Omit for the offline demo world.",
        ),
        pretrained: str = typer.Option(
            None, help="open_clip pretrained tag, with an architecture name."
        ),
        directory: Path = typer.Option(Path("."), "--dir", help="Where to write regionadapt.toml."),
        force: bool = typer.Option(
            False, "--force", help="Overwrite an existing regionadapt.toml."
        ),
    ) -> None:
        """Write regionadapt.toml (every stage's knobs, documented) in the current folder."""
        from regionadapt.config import CONFIG_NAME, load_config
        from regionadapt.init_template import render
        from regionadapt.packs import get_pack

        pack = get_pack(region)  # a malformed pack is refused here, before anything is written
        path = directory / CONFIG_NAME
        if path.exists() and not force:
            raise ConfigError(f"{path} already exists; pass --force to overwrite it")
        archs = list(arch or ([guess_arch(model)] if model else ["embedding"]))
        extra = {"pretrained": pretrained} if pretrained else None
        text = render(pack, region, model, archs, model_params=extra)
        directory.mkdir(parents=True, exist_ok=True)
        from regionadapt.rundir import atomic_write_text

        atomic_write_text(path, text)
        load_config(path)  # what we write must load
        what = "the DEMO WORLD (offline, generated data, small models)" if model is None else model
        typer.echo(f"wrote {path} for {pack.name} ({pack.id}), {', '.join(archs)}, using {what}")
        for a in archs:
            typer.echo(f"next: regionadapt adapt --arch {a}")
