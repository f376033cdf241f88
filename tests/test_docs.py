"""The documentation: the generated configuration reference, the README landing page, the code the pages
show, and the site's structure (the full build, which runs the tutorial, is `mkdocs build --strict` in CI)."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from scbeta import config_doc

REPO = Path(__file__).resolve().parents[1]
TEST_COMMAND = 'pip install -e ".[test,slurm]" && python -m pytest'


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.M | re.S)


# --- the configuration reference ------------------------------------------------------------------------------

def test_config_reference_is_current():
    expected = config_doc.reference(config_doc.load_schema(), yaml.safe_load((REPO / "config.yaml").read_text()))
    assert (REPO / "config" / "README.md").read_text() == expected, "run: python -m scbeta.config_doc"


def test_every_schema_key_has_a_description():
    assert config_doc.undescribed_keys(config_doc.load_schema()) == []


def test_the_reference_names_every_key_of_the_schema_and_the_registry_names():
    text = (REPO / "config" / "README.md").read_text()
    schema = config_doc.load_schema()
    for section, node in schema["properties"].items():
        assert f"`{section}`" in text
        for key in config_doc.walk(node, schema, f"{section}."):
            assert f"| `{key.path}` |" in text
    assert "| `datasets.<name>.sweep[].objective` | one of `beta`, `capacity`, `tcvae`, `factorvae`" in text


@pytest.mark.parametrize("node, text", [
    ({"type": "number", "exclusiveMinimum": 0, "maximum": 1}, "number in (0, 1]"),
    ({"type": "number", "minimum": 0, "exclusiveMaximum": 1}, "number in [0, 1)"),
    ({"type": "integer", "minimum": 2}, "integer ≥ 2"),
    ({"type": ["integer", "null"], "minimum": 1}, "integer ≥ 1 or null"),
    ({"enum": ["umap", "gauss"]}, "one of `umap`, `gauss`"),
    ({"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "integer", "minimum": 0}},
     "list of integers ≥ 0 (at least 1, no repeats)"),
    ({"type": "array", "items": {"enum": ["pca", "ica"]}}, "list of values from `pca`, `ica`"),
    ({"type": "string", "minLength": 1}, "non-empty string"),
    ({"type": "object", "additionalProperties": {"enum": ["categorical", "numeric"]}},
     "mapping of names to one of `categorical`, `numeric`"),
])
def test_type_text_states_types_and_bounds(node, text):
    assert config_doc.type_text(node, {"definitions": {}}) == text


def test_defaults_are_read_per_dataset_and_left_to_config_yaml_when_long():
    config = {"seeds": [0, 1], "datasets": {"a": {"n_top_genes": 500, "sweep": [{"objective": "beta"}]},
                                            "b": {"n_top_genes": 2000, "identity": "cell"},
                                            "c": {"factors": [f"factor_{i}" for i in range(9)]}}}
    assert config_doc.default_text("seeds", config) == "`[0, 1]`"
    assert config_doc.default_text("datasets.<name>.n_top_genes", config) == "a: `500`<br>b: `2000`"
    assert config_doc.default_text("datasets.<name>.identity", config) == "`cell` (b)"
    assert config_doc.default_text("datasets.<name>.layer", config) == "—"
    assert config_doc.default_text("datasets.<name>.sweep[].objective", config) == "—"
    assert config_doc.default_text("datasets.<name>.factors", config) == "see `config.yaml`"


def test_check_mode_fails_on_a_stale_reference(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text("# Configuration\n")
    assert config_doc.main(["--check", "--output", str(stale)]) == 1
    assert "is not current: run python -m scbeta.config_doc" in capsys.readouterr().err
    assert config_doc.main(["--output", str(stale)]) == 0
    assert config_doc.main(["--check", "--output", str(stale)]) == 0


# --- README and pages -----------------------------------------------------------------------------------------

def test_readme_is_a_landing_page_with_the_test_command_and_links_into_the_docs():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert TEST_COMMAND in text  # continuous integration runs this command
    assert re.search(r"^## The tests", text, flags=re.M)
    assert re.search(r"^## Full-size reference", text, flags=re.M)
    links = re.findall(r"\]\((docs/[^)#]+)", text)
    assert links, "the README links into the documentation"
    assert [link for link in links if not (REPO / link).exists()] == []


def test_every_page_of_the_site_and_every_included_file_exists():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    pages = [page for entry in config["nav"] for page in entry.values()]
    assert [page for page in pages if not (REPO / "docs" / page).is_file()] == []
    for page in (REPO / "docs").glob("*.md"):
        for included in re.findall(r'^--8<-- "([^"]+)"', page.read_text(), flags=re.M):
            assert (REPO / included).is_file(), f"{page.name} includes {included}, which does not exist"


def test_the_tutorial_calls_only_names_the_package_has():
    source = (REPO / "docs" / "tutorial.py").read_text()
    names = set(re.findall(r"\bscbeta(?:\.[A-Za-z_]\w*)+", source))
    assert len(names) >= 8
    for name in sorted(names):
        parts = name.split(".")
        obj = importlib.import_module("scbeta")
        for depth, part in enumerate(parts[1:], start=2):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                obj = importlib.import_module(".".join(parts[:depth]))  # a submodule not imported by its parent


@pytest.mark.parametrize("page", ["README.md", "docs/api.md"])
def test_the_python_examples_of_a_page_run(page, tmp_path, monkeypatch):
    blocks = _python_blocks(REPO / page)
    assert blocks, f"{page} has no python example"
    monkeypatch.chdir(tmp_path)  # examples may save files
    for block in blocks:
        exec(compile(block, page, "exec"), {"__name__": "__example__"})
