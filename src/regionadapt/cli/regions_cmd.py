"""``regionadapt regions list|show|validate|diff|schema|new``: region packs. Never imports torch."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Region packs: list, show, validate, diff, JSON Schema, start a new one.",
    no_args_is_help=True,
)


@app.command("list")
def list_() -> None:
    """Installed region packs (id, name, countries, lexicon size, where it comes from)."""
    from regionadapt.errors import PackError
    from regionadapt.plugins import registry

    reg = registry("region_packs")
    for pack_id, source in reg.items():
        try:
            p = source.pack
            typer.echo(
                f"{pack_id:<12} {p.name:<28} countries={len(p.countries):<3} languages={len(p.languages):<3} "
                f"lexicon={len(p.lexicon):<4} a={p.a:.3f}  ({reg.owner(pack_id)}: {source.path})"
            )
        except PackError as exc:
            typer.echo(f"{pack_id:<12} INVALID ({source.path}): {str(exc).splitlines()[0]}")
    # Packs that could not even be keyed by id (missing, not TOML, a duplicate id): listed so
    # that their author sees why, while every other pack stays usable.
    for owner, source in reg.rejected:
        typer.echo(
            f"{source.id:<12} INVALID ({reg.describe(owner)}: {source.path}): "
            f"{str(source.error).splitlines()[0]}"
        )


@app.command()
def show(pack: str = typer.Argument(..., help="Pack id or path to a pack .toml.")) -> None:
    """A pack's contents: countries, languages, globalisation weight, lexicon, benchmarks."""
    from collections import Counter

    from regionadapt.packs import get_pack

    p = get_pack(pack)
    g = p.globalisation
    typer.echo(f"{p.name} ({p.id})  {p.description}")
    typer.echo(f"globalisation weight a = {g.weight}  ({g.measure}, {g.year}; source: {g.source})")
    typer.echo("countries: " + ", ".join(f"{c.code} {c.name}" for c in p.countries))
    typer.echo(
        "languages: "
        + ", ".join(f"{lang.code} ({lang.name}, {lang.script})" for lang in p.languages)
    )
    cats = Counter(e.category for e in p.lexicon)
    typer.echo(
        f"lexicon: {len(p.lexicon)} entries; "
        + ", ".join(f"{k} {v}" for k, v in sorted(cats.items()))
    )
    typer.echo("benchmarks:")
    for b in p.benchmarks:
        where = b.hub_id or b.path or b.url
        typer.echo(f"  {b.id:<20} {b.role:<8} {b.task:<26} {'/'.join(b.archs):<20} {where}")
    if p.data_sources:
        typer.echo("data sources: " + ", ".join(f"{d.name} ({d.license})" for d in p.data_sources))


@app.command()
def validate(path: Path = typer.Argument(..., help="Path to a pack .toml.")) -> None:
    """Check a pack file: every problem at once, one line each naming the file and key path;
    placeholders left from `regions new` (TODO, TBD, FIXME...) are refused."""
    from regionadapt.errors import PackError
    from regionadapt.pack_lint import placeholders
    from regionadapt.packs import cross_reference_errors, load_pack
    from regionadapt.schema import read_toml

    data = read_toml(path, PackError)
    problems = [f"{path}: {where}: {why}" for where, why in placeholders(data)]
    try:
        p = load_pack(path)
    except PackError as exc:
        field_errors = str(exc).splitlines()
        # The schema checks cross-references only once every field parses: run them on the
        # raw data too, so that one pass shows every problem.
        cross = [f"{path}: {e}" for e in cross_reference_errors(data)]
        problems = field_errors + [c for c in cross if c not in field_errors] + problems
        p = None
    if problems:
        # main() prints "error: " before the message: every line gets the same prefix
        raise PackError("\nerror: ".join(problems + [f"{path}: {len(problems)} problem(s)"]))
    typer.echo(
        f"{path}: valid pack {p.id!r}: {len(p.countries)} countries, {len(p.languages)} languages, "
        f"{len(p.lexicon)} lexicon entries, {len(p.benchmarks)} benchmarks"
    )


@app.command()
def diff(
    a: str = typer.Argument(..., help="Pack id or path (the old one)."),
    b: str = typer.Argument(..., help="Pack id or path (the new one)."),
) -> None:
    """What changed between two packs: countries, languages, weight, lexicon, benchmarks,
    gazetteer. Lines start with + (only in B), - (only in A) or ~ (changed)."""
    from regionadapt.pack_lint import diff_packs
    from regionadapt.packs import get_pack

    lines = diff_packs(get_pack(a), get_pack(b))
    typer.echo("\n".join(lines) if lines else "no differences")


@app.command()
def schema(
    out: Path = typer.Option(None, help="Write the JSON Schema here (default: stdout)."),
) -> None:
    """The region-pack JSON Schema, for editors (e.g. Taplo / Even Better TOML)."""
    import json

    from regionadapt.packs import RegionPack

    text = json.dumps(RegionPack.model_json_schema(by_alias=True), indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
    else:
        from regionadapt.rundir import atomic_write_text

        atomic_write_text(out, text + "\n")
        typer.echo(f"wrote {out}")


@app.command()
def new(
    pack_id: str = typer.Argument(..., help="Lowercase id of the new pack, e.g. 'andes'."),
    out: Path = typer.Option(None, help="Where to write it (default: ./<id>.toml)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a skeleton pack to fill in (it validates as written)."""
    from regionadapt.errors import PackError
    from regionadapt.pack_template import skeleton
    from regionadapt.packs import load_pack
    from regionadapt.rundir import atomic_write_text

    path = out or Path(f"{pack_id}.toml")
    if path.exists() and not force:
        raise PackError(f"{path} already exists; pass --force to overwrite it")
    atomic_write_text(path, skeleton(pack_id))
    load_pack(path)  # the schema holds; `validate` refuses it until every TODO is filled in
    typer.echo(
        f"wrote {path}; fill in every TODO (validate refuses them), then "
        f"`regionadapt regions validate {path}`"
    )
