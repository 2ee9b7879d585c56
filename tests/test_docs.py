"""The docs site: a short README, a full API reference, links that resolve, a clean build."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bounds
import cmcd

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 150
API_PAGES = {"cmcd": DOCS / "api" / "cmcd.rst", "bounds": DOCS / "api" / "bounds.rst"}
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
DIRECTIVE_PATH = re.compile(r"```\{(?:image|figure|include|literalinclude)\}\s+(\S+)")


def autosummary_names(page: Path) -> set[str]:
    """Names listed in the ``.. autosummary::`` blocks of an reST page."""
    names: set[str] = set()
    in_block = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith(".. autosummary::"):
            in_block = True
        elif in_block and line.strip() and not line.startswith(" "):
            in_block = False
        elif in_block and line.startswith("   ") and not line.strip().startswith(":"):
            names.add(line.strip().lstrip("~").rsplit(".", 1)[-1])
    return names


def markdown_sources() -> list[Path]:
    pages = [
        p for p in DOCS.rglob("*.md") if "_build" not in p.parts and "_generated" not in p.parts
    ]
    return [ROOT / "README.md", *sorted(pages)]


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("package", [cmcd, bounds], ids=["cmcd", "bounds"])
def test_api_reference_lists_every_public_name(package):
    listed = autosummary_names(API_PAGES[package.__name__])
    missing = sorted(set(package.__all__) - listed)
    assert not missing, (
        f"{package.__name__}.__all__ names missing from the API reference: {missing}"
    )
    extra = sorted(listed - set(package.__all__))
    assert not extra, f"API reference lists names not in {package.__name__}.__all__: {extra}"


def test_autosummary_parser_sees_the_listed_names(tmp_path):
    page = tmp_path / "p.rst"
    page.write_text(
        ".. autosummary::\n   :toctree: generated\n\n   run\n   ~x.load\n\nText\n   nope\n"
    )
    assert autosummary_names(page) == {"run", "load"}


CONF_TEXT = (DOCS / "conf.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("page", markdown_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_figures_resolve(page):
    text = page.read_text(encoding="utf-8")
    targets = [m.group(1) for m in LINK.finditer(text)] + DIRECTIVE_PATH.findall(text)
    local = [t for t in targets if not t.startswith(("http://", "https://", "mailto:"))]
    missing = [t for t in local if not (page.parent / t).exists() and not _generated(t)]
    assert not missing, f"{page.relative_to(ROOT)}: {missing} do not exist"


def _generated(target: str) -> bool:
    """A ``_generated/`` page that ``docs/conf.py`` writes at build time (not in a clone)."""
    name = Path(target).name
    return "_generated" in Path(target).parts and f'"_generated" / "{name}"' in CONF_TEXT


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    if importlib.util.find_spec("sphinx") is None:
        pytest.skip("sphinx is not installed: `make docs` installs the docs extra (.[docs])")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    command += ["-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=ROOT)
    seconds = time.perf_counter() - start
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert done.returncode == 0 and not warnings, (
        f"sphinx-build -W failed after {seconds:.0f} s with {len(warnings)} warnings:\n"
        + "\n".join(warnings[:40])
    )
    assert (tmp_path / "html" / "index.html").is_file()
    assert (tmp_path / "html" / "api" / "generated" / "bounds.compute_bound.html").is_file()
    print(f"docs built in {seconds:.0f} s")
