"""``regionadapt plugins list``: what is installed, its state (ok, failed to load, failed in a
hook) with its last error, and which hooks and components each plugin provides."""

from __future__ import annotations

import typer

app = typer.Typer(help="Installed plugins.", no_args_is_help=True)


@app.command("list")
def list_(
    components: bool = typer.Option(True, help="Also list the components each registers."),
) -> None:
    """Each plugin: name, distribution and version, state and last error, hooks, components."""
    from regionadapt.plugins import KINDS, plugin_infos, registry

    owned: dict[str, list[str]] = {}
    if components:
        for kind in KINDS:
            try:
                reg = registry(kind)
            except Exception as exc:  # a broken plugin must not hide the others
                typer.echo(f"warning: could not list {kind}: {exc}", err=True)
                continue
            for name, _ in reg.items():
                owned.setdefault(reg.owner(name), []).append(
                    f"{kind.rstrip('s').replace('_', ' ')} {name}"
                )
    for info in plugin_infos():
        dist = f"{info.dist} {info.version}" if info.dist else "(in-process)"
        typer.echo(f"{info.name}  [{dist}]  from {info.origin}")
        typer.echo(f"    state: {info.state}")
        if not info.loaded:
            typer.echo(f"    FAILED TO LOAD (skipped): {info.error}")
            continue
        if info.error:
            typer.echo(f"    last error: {info.error}")
        typer.echo(f"    hooks: {', '.join(info.hooks) or '-'}")
        if owned.get(info.name):
            typer.echo(f"    provides: {', '.join(owned[info.name])}")
