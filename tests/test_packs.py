"""Region packs: the SEA reference pack, a second pack used everywhere the SEA one is, and
every way a malformed pack is refused (naming the file, the key path and what was expected)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from core_kit import ANDES_PACK, run_cli, write_andes

from regionadapt.errors import PackError, PluginError
from regionadapt.hookspecs import hookimpl
from regionadapt.packs import CATEGORIES, get_pack, load_pack
from regionadapt.plugins import register_plugin, registry, unregister_plugin

SEA_COUNTRIES = {"BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN"}


def test_sea_pack_is_registered_through_the_entry_point_and_valid():
    reg = registry("region_packs")
    assert "sea" in reg
    assert reg.owner("sea") == "region_packs"  # the built-in plugin's entry-point name
    pack = get_pack("sea")
    assert pack == load_pack(reg.get("sea").path)
    assert set(pack.country_codes) == SEA_COUNTRIES
    assert pack.a == pytest.approx(0.434)
    assert pack.globalisation.index / 100 == pytest.approx(pack.a, abs=0.005)
    cats = Counter(e.category for e in pack.lexicon)
    assert len(pack.lexicon) >= 150
    assert len(cats) >= 8
    assert {b.role for b in pack.benchmarks} == {"regional", "global"}


def test_sea_lexicon_is_consistent_with_its_countries_and_languages():
    pack = get_pack("sea")
    langs = set(pack.language_codes)
    for entry in pack.lexicon:
        assert set(entry.countries) <= SEA_COUNTRIES, entry.id
        assert set(entry.forms) <= langs, entry.id
        assert entry.category in CATEGORIES
    # Every SEA country has at least one lexicon entry: the demo world draws from each.
    assert {c for e in pack.lexicon for c in e.countries} == SEA_COUNTRIES


def test_second_pack_validates_and_shows_through_the_cli(tmp_path):
    path = write_andes(tmp_path)
    res = run_cli("regions", "validate", str(path))
    assert res.returncode == 0, res.stderr
    assert "valid pack 'andes'" in res.stdout and "3 countries" in res.stdout
    res = run_cli("regions", "show", str(path))
    assert res.returncode == 0, res.stderr
    assert "Andean States (andes)" in res.stdout
    assert "PE Peru" in res.stdout and "que (Quechua, Latn)" in res.stdout
    assert "lexicon: 4 entries" in res.stdout
    assert "andes-local" in res.stdout


def test_second_pack_registered_by_a_plugin_is_listed_and_found_by_id(tmp_path, capsys):
    path = write_andes(tmp_path)

    class AndesPlugin:
        @hookimpl
        def register_region_packs(self, register):
            register(str(path))

    register_plugin(AndesPlugin(), name="andes-pack")
    try:
        assert get_pack("andes").country_codes == ["PE", "BO", "EC"]
        assert registry("region_packs").owner("andes") == "andes-pack"
        from regionadapt.cli import main

        main(["regions", "list"])
        out = capsys.readouterr().out
        lines = {line.split()[0]: line for line in out.splitlines()}
        assert "sea" in lines and "andes" in lines
        assert "countries=3" in lines["andes"] and "a=0.500" in lines["andes"]
    finally:
        unregister_plugin("andes-pack")
    with pytest.raises(PluginError, match="unknown region pack 'andes'; valid choices: .*sea"):
        get_pack("andes")


def test_init_and_open_project_work_with_the_second_pack(tmp_path):
    write_andes(tmp_path)
    res = run_cli("init", "--region", "./andes.toml", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Andean States (andes)" in res.stdout
    from regionadapt.lifecycle import open_project

    project = open_project(tmp_path / "regionadapt.toml", "embedding")
    assert project.pack.id == "andes"
    assert project.run.root == tmp_path / "runs" / "andes-embedding"


def test_regions_new_writes_a_skeleton_that_validates(tmp_path):
    res = run_cli("regions", "new", "my-region", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    pack = load_pack(tmp_path / "my-region.toml")  # the schema holds as written
    assert pack.id == "my-region"
    # ...but `validate` refuses the TODOs, every one at once, each line naming file and key
    res = run_cli("regions", "validate", "my-region.toml", cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert all(line.startswith("error: my-region.toml: ") for line in lines), lines
    assert any("globalisation.source: placeholder 'TODO'" in line for line in lines)
    assert len(lines) >= 5 and lines[-1].endswith(f"{len(lines) - 1} problem(s)")
    filled = (tmp_path / "my-region.toml").read_text(encoding="utf-8").replace("TODO", "Real")
    filled = filled.replace("todo", "real")
    (tmp_path / "my-region.toml").write_text(filled, encoding="utf-8")
    assert run_cli("regions", "validate", "my-region.toml", cwd=tmp_path).returncode == 0
    # A second `new` must not clobber the user's work.
    again = run_cli("regions", "new", "my-region", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr and "--force" in again.stderr


def _mutate(old: str, new: str) -> str:
    assert old in ANDES_PACK, old  # the mutation must really change the fixture
    return ANDES_PACK.replace(old, new, 1)


BAD_PACKS = {
    "unknown-key": (
        _mutate('code = "PE"\n', 'code = "PE"\ncapital = "Lima"\n'),
        ["countries[0].capital", "unknown key"],
    ),
    "missing-key": (
        _mutate('name = "Quechua"\n', ""),
        ["languages[1].name", "required key is missing"],
    ),
    "bad-country-code": (
        _mutate('code = "EC"', 'code = "ec"'),
        ["countries[2].code", "[A-Z]{2}", "'ec'"],
    ),
    "forms-in-undeclared-language": (
        _mutate('forms = { spa = ["salteña"] }', 'forms = { spa = ["salteña"], gug = ["x"] }'),
        ["lexicon[1] (saltena).forms", "'gug' is not declared", "declared: spa, que, aym, eng"],
    ),
    "lexicon-country-not-in-pack": (
        _mutate('countries = ["BO"]\n', 'countries = ["CL"]\n'),
        ["lexicon[1] (saltena).countries", "'CL' is not one of the pack's countries", "PE, BO, EC"],
    ),
    "duplicate-lexicon-id": (
        _mutate('id = "pollera"', 'id = "ceviche"'),
        ["lexicon", "duplicate ids ['ceviche']"],
    ),
    "bbox-min-above-max": (
        _mutate("[-69.7, -22.9, -57.4, -9.6]", "[-57.4, -22.9, -69.7, -9.6]"),
        ["countries[1].bbox", "min < max"],
    ),
    "weight-index-mismatch": (
        _mutate("index = 50.0", "index = 60.0"),
        ["globalisation", "weight 0.5 does not match index 60.0", "index / 100"],
    ),
    "unsupported-schema": (
        _mutate("schema = 1", "schema = 2"),
        ["schema", "unsupported schema version 2", "reads 1"],
    ),
    "weight-out-of-range": (
        _mutate("weight = 0.5\nindex = 50.0\n", "weight = 1.5\n"),
        ["globalisation.weight", "less than or equal to 1"],
    ),
    "unknown-category": (
        _mutate('category = "clothing"', 'category = "fashion"'),
        ["lexicon[2].category", "'food'", "'fashion'"],
    ),
    "toml-syntax-error": (
        _mutate('name = "Peru"', 'name = "Peru'),
        ["not valid TOML", "line 15"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PACKS))
def test_bad_pack_is_refused_naming_file_key_and_expectation(tmp_path, case):
    text, expected = BAD_PACKS[case]
    path = write_andes(tmp_path, f"{case}.toml", text)
    with pytest.raises(PackError) as err:
        load_pack(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    for part in expected:
        assert part in message, (part, message)


def test_every_error_line_names_the_file(tmp_path):
    # Two problems at once: both reported, each on a line of its own naming the file.
    text = _mutate('countries = ["BO"]\n', 'countries = ["CL"]\n').replace(
        'id = "pollera"', 'id = "ceviche"'
    )
    path = write_andes(tmp_path, "two.toml", text)
    with pytest.raises(PackError) as err:
        load_pack(path)
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_missing_pack_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(PackError, match=f"^{missing}: file not found$"):
        load_pack(missing)
    with pytest.raises(PackError, match="file not found"):
        get_pack(str(missing))


def test_cli_validate_reports_a_bad_pack_without_traceback(tmp_path):
    path = write_andes(tmp_path, "bad.toml", BAD_PACKS["bad-country-code"][0])
    res = run_cli("regions", "validate", str(path))
    assert res.returncode == 2
    assert res.stderr.startswith(f"error: {path}: countries[2].code")
    assert "Traceback" not in res.stderr
    assert res.stdout == ""


def test_cli_validate_reports_field_and_cross_reference_errors_together(tmp_path):
    # a field that does not parse (a lowercase code) AND a lexicon form in an undeclared
    # language: the schema alone would show the second only once the first is fixed
    text = ANDES_PACK.replace('code = "EC"', 'code = "ec"', 1).replace(
        'forms = { spa = ["salteña"] }', 'forms = { spa = ["salteña"], gug = ["x"] }', 1
    )
    path = write_andes(tmp_path, "two.toml", text)
    res = run_cli("regions", "validate", str(path))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert any("countries[2].code" in line for line in lines)
    assert any("lexicon[1] (saltena).forms" in line and "'gug'" in line for line in lines)
    assert all(line.startswith(f"error: {path}: ") for line in lines)
    # the lexicon's "EC" is not reported as a broken reference: the code's case is the error
    assert len(lines) == 3 and lines[-1] == f"error: {path}: 2 problem(s)"


def test_pack_registered_by_id_is_validated_when_used(tmp_path):
    # A plugin registering a malformed pack: listing still works, using it fails clearly.
    bad = write_andes(tmp_path, "andes.toml", BAD_PACKS["duplicate-lexicon-id"][0])

    class BadPack:
        @hookimpl
        def register_region_packs(self, register):
            register(str(bad))

    register_plugin(BadPack(), name="bad-pack")
    try:
        assert "andes" in registry("region_packs")
        with pytest.raises(PackError, match=r"duplicate ids \['ceviche'\]"):
            get_pack("andes")
    finally:
        unregister_plugin("bad-pack")


def test_pack_file_without_a_usable_id_is_set_aside_at_registration(tmp_path):
    path = Path(tmp_path / "noid.toml")
    path.write_text(ANDES_PACK.replace('id = "andes"', 'id = "Andes!"'), encoding="utf-8")

    class NoId:
        @hookimpl
        def register_region_packs(self, register):
            register(str(path))

    register_plugin(NoId(), name="noid-pack")
    try:
        reg = registry("region_packs")
        # Refused on its own, listed with its error; every other pack stays usable.
        [(owner, source)] = reg.rejected
        assert owner == "noid-pack"
        assert source.error.startswith(f"{path}: id: expected a lowercase id")
        with pytest.raises(PackError, match="id: expected a lowercase id"):
            _ = source.pack
        assert reg.get("sea").pack.id == "sea"
    finally:
        unregister_plugin("noid-pack")
