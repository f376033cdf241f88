"""Whether the installed packages are those of the lock file, for the study's provenance.

The lock (`requirements/lock-linux-x86_64-cpu.txt`, made by `requirements/compile.sh`) pins every
package the study and its tests, docs and release checks use, with hashes, for CPython 3.11 on
Linux x86-64 with torch's CPU build. A study run in another environment is not wrong, but its
numbers may differ in the last digits; the provenance record says so.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib.metadata import distributions
from pathlib import Path
from typing import NamedTuple

from packaging.version import InvalidVersion, Version

__all__ = ["LOCK_NAME", "Mismatch", "canonical_name", "default_lock_path", "installed_versions", "lock_mismatches",
           "lock_summary", "read_lock"]

LOCK_NAME = "lock-linux-x86_64-cpu.txt"
# `name==version` or `name[extras]==version` at the start of a line, as pip-compile and uv write them.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)")


class Mismatch(NamedTuple):
    """A locked package whose installed version differs (`installed` is None where it is not installed)."""

    package: str
    locked: str
    installed: str | None


def canonical_name(name: str) -> str:
    """A package name as PEP 503 compares them: lower case, runs of `-`, `_` and `.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def default_lock_path() -> Path | None:
    """The lock of the source checkout this package was imported from; None for an installed wheel."""
    path = Path(__file__).resolve().parents[2] / "requirements" / LOCK_NAME
    return path if path.is_file() else None


def read_lock(path: str | os.PathLike) -> dict[str, str]:
    """Package (canonical name) → pinned version, from a requirements file of `==` pins."""
    path = Path(path)
    pins: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = _PIN.match(line)
        if match is None:
            continue
        name = canonical_name(match.group(1))
        if name in pins and pins[name] != match.group(2):
            raise ValueError(f"{path}, line {number}: {match.group(1)} pinned twice "
                             f"({pins[name]} and {match.group(2)})")
        pins[name] = match.group(2)
    if not pins:
        raise ValueError(f"{path}: no `package==version` line; expected a lock file of pinned requirements")
    return pins


def installed_versions() -> dict[str, str]:
    """Package (canonical name) → version of every distribution importable in this environment."""
    versions: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(canonical_name(name), dist.version)
    return versions


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def lock_mismatches(lock: Mapping[str, str], installed: Mapping[str, str] | None = None) -> list[Mismatch]:
    """The locked packages whose installed version differs from the pin, or that are not installed.

    `lock` and `installed` map package names to versions (`read_lock`, `installed_versions`, the
    default); names are compared canonically, versions as PEP 440 versions (`2.13.0+cpu` ≠ `2.13.0`).
    Packages installed but not locked are not mismatches.
    """
    installed = installed_versions() if installed is None else installed
    found = {canonical_name(name): version for name, version in installed.items()}
    mismatches = []
    for name, locked in sorted(lock.items()):
        have = found.get(canonical_name(name))
        if have is None or not _same_version(locked, have):
            mismatches.append(Mismatch(canonical_name(name), locked, have))
    return mismatches


def lock_summary(path: str | os.PathLike | None = None, installed: Mapping[str, str] | None = None,
                 max_listed: int = 5) -> str:
    """One line saying whether the installed packages match the lock at `path` (default: `default_lock_path`).

    E.g. "matches requirements/lock-linux-x86_64-cpu.txt (194 packages)" or "differs from
    requirements/lock-linux-x86_64-cpu.txt (194 packages): 1 at another version (numpy 2.4.6 locked,
    2.3.0 installed); 2 not installed (build, twine)".
    """
    path = default_lock_path() if path is None else Path(path)
    if path is None:
        return f"no lock file (requirements/{LOCK_NAME} is part of the source checkout, not of the package)"
    lock = read_lock(path)
    where = f"{path.parent.name}/{path.name} ({len(lock)} packages)"
    mismatches = lock_mismatches(lock, installed)
    if not mismatches:
        return f"matches {where}"
    other = [f"{m.package} {m.locked} locked, {m.installed} installed" for m in mismatches if m.installed]
    missing = [m.package for m in mismatches if m.installed is None]
    parts = []
    if other:
        parts.append(f"{len(other)} at another version ({_first(other, max_listed, '; ')})")
    if missing:
        parts.append(f"{len(missing)} not installed ({_first(missing, max_listed, ', ')})")
    return f"differs from {where}: {'; '.join(parts)}"


def _first(items: list[str], n: int, sep: str) -> str:
    """The first `n` items joined by `sep`, with an ellipsis where there are more."""
    return sep.join(items[:n]) + (f"{sep}…" if len(items) > n else "")
