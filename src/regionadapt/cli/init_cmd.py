"""``regionadapt init``: write a documented regionadapt.toml."""

from __future__ import annotations

from pathlib import Path

import typer

from regionadapt.errors import ConfigError


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        region: str = typer.Option("sea", help="Region pack id or path to a pack .toml."),
        model: str = typer.Option(
            None,
            help="A real open_clip model (hf-hub:org/name, an architecture name, a local folder). Omit for the offline demo world.",
        ),
        pretrained: str = typer.Option(None, help="Pretrained tag, with an architecture name."),
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
        text = render(pack, region, model, pretrained)
        directory.mkdir(parents=True, exist_ok=True)
        from regionadapt.rundir import atomic_write_text

        atomic_write_text(path, text)
        load_config(path)  # what we write must load
        what = "the DEMO WORLD (offline, generated data, small model)" if model is None else model
        typer.echo(f"wrote {path} for {pack.name} ({pack.id}) using {what}")
        typer.echo("next: regionadapt adapt --arch embedding")
