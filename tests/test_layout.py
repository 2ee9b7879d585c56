"""The package layout: subpackages by topic, none too flat, and imports that flow one way.

Layers, lowest first: ``bounds`` (never imports ``cmcd``); ``cmcd.data``; ``cmcd.train``;
``cmcd.runs`` and ``cmcd.plotting``; ``cmcd.cli``. A module may import its own layer and
those below it, and the top-level helpers of ``cmcd`` (``cmcd.config``, ``cmcd._checks``...).
Imports inside functions and under ``TYPE_CHECKING`` count too.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_MODULES = 12  # the "about 12": a flat package past it is split by topic

# package -> the cmcd subpackages it must not import
FORBIDDEN = {
    "cmcd.data": ("cmcd.train", "cmcd.runs", "cmcd.plotting", "cmcd.cli"),
    "cmcd.train": ("cmcd.runs", "cmcd.plotting", "cmcd.cli"),
    "cmcd.plotting": ("cmcd.train", "cmcd.runs", "cmcd.cli"),
    "cmcd.runs": ("cmcd.cli",),
    "bounds": ("cmcd",),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources(package: str) -> list[Path]:
    return sorted((REPO / package.replace(".", "/")).rglob("*.py"))


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package):
    wrong = [
        f"{_module_name(path)} imports {name}"
        for path in _sources(package)
        for name in sorted(_imported(path))
        if any(_inside(name, banned) for banned in FORBIDDEN[package])
    ]
    assert not wrong, wrong


def test_the_layer_rules_can_fail():
    # the checker sees function-level imports: cmcd.config imports cmcd.train lazily
    assert any(_inside(n, "cmcd.train") for n in _imported(REPO / "cmcd" / "config.py"))


@pytest.mark.parametrize("root", ["cmcd", "bounds"])
def test_no_package_is_flat_past_about_twelve_modules(root):
    packages = [p.parent for p in (REPO / root).rglob("__init__.py")]
    sizes = {
        _module_name(p / "__init__.py"): len([m for m in p.glob("*.py") if m.name != "__init__.py"])
        for p in packages
    }
    assert len(sizes) > 1  # the root and its subpackages were found
    assert max(sizes.values()) <= MAX_MODULES, sizes
