"""The module map of the Python API page (docs/api.md) lists exactly the modules of src/scbeta."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_module_map_matches_the_source_tree():
    package = REPO / "src" / "scbeta"
    modules = set()
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    section = (REPO / "docs" / "api.md").read_text().split("## Module map", 1)[1].split("\n#", 1)[0]
    listed = re.findall(r"^- `(scbeta[\w.]*)` — \S", section, flags=re.M)
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert sorted(set(listed) - modules) == [], "listed in docs/api.md but not in src/scbeta"
    assert sorted(modules - set(listed)) == [], "in src/scbeta but not in the module map of docs/api.md"
