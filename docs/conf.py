"""Sphinx configuration of the cmcd documentation (``make docs``).

Notebooks: the jupytext percent sources in ``notebooks/`` are converted to ``.ipynb`` under
``docs/notebooks/`` at build time (git ignores ``*.ipynb``) and rendered by myst-nb without
being executed (``nb_execution_mode = "off"``): the committed figures are what they draw.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jupytext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import cmcd  # noqa: E402

project = "cmcd"
author = "the cmcd authors"
copyright = "2024-2025, the cmcd authors"  # noqa: A001
release = cmcd.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

templates_path = ["_templates"]
# _generated/ holds tables written from the code at build time, included by other pages.
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# API reference: one page per public object (autosummary), parameters rendered by numpydoc.
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False  # the class template lists members with autodoc
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
nitpicky = False
# numpydoc turns each module docstring's "References" list into citations; those lists are a
# bibliography, not cited inline with ``[1]_``, and Sphinx would flag every entry as
# "not referenced". Only that one check is silenced; every other warning fails the build.
suppress_warnings = ["ref.citation"]

# Markdown (MyST) and notebooks (myst-nb, never executed here).
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"
nb_merge_streams = True

html_theme = "pydata_sphinx_theme"
html_title = f"cmcd {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []


def convert_notebooks(src: Path = ROOT / "notebooks", out: Path = HERE / "notebooks") -> list[Path]:
    """Write ``out/NAME.ipynb`` for every jupytext source ``src/NAME.py`` (only when changed).

    Parameters
    ----------
    src : pathlib.Path
        Folder of the jupytext percent sources.
    out : pathlib.Path
        Folder the notebooks are written to.

    Returns
    -------
    list of pathlib.Path
        The notebooks written or already up to date.
    """
    written = []
    for source in sorted(src.glob("[0-9][0-9]_*.py")):
        text = jupytext.writes(jupytext.read(source), fmt="ipynb")
        target = out / f"{source.stem}.ipynb"
        _write_if_changed(target, text)
        written.append(target)
    return written


def _cell(text: object) -> str:
    """Escape a value for one cell of a Markdown table."""
    return str(text).replace("|", "\\|")


def write_terms_table(out: Path = HERE / "_generated" / "terms.md") -> Path:
    """Write the table of every bound term, its status and meaning, from the term registry.

    The table is built from :data:`bounds.target.generalization.TERMS` (and the columns a
    sweep marks ``"measured"``, :data:`cmcd.runs.columns.MEASURED`), so the page that
    includes it cannot drift from the code.

    Parameters
    ----------
    out : pathlib.Path
        The Markdown file written.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    from bounds.target.generalization import TERMS
    from cmcd.runs.columns import MEASURED

    lines = [
        "| term | status when its assumptions hold | in a sweep's `columns.json` | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, (status, meaning) in TERMS.items():
        column = "measured" if name in MEASURED else status
        lines.append(f"| `{name}` | {status} | {column} | {_cell(meaning)} |")
    _write_if_changed(out, "\n".join(lines) + "\n")
    return out


def write_cli_help(out: Path = HERE / "_generated" / "cli.md") -> Path:
    """Write the ``--help`` text of ``cmcd`` and of each of its commands.

    Parameters
    ----------
    out : pathlib.Path
        The Markdown file written.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    import argparse

    from cmcd.cli.main import build_parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: fix the width
    parser = build_parser()
    parts = ["```text", parser.format_help().rstrip(), "```"]
    for action in parser._actions:  # the subcommands' parsers hang off one action
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts += [
                    "",
                    f"### `cmcd {name}`",
                    "",
                    "```text",
                    sub.format_help().rstrip(),
                    "```",
                ]
    _write_if_changed(out, "\n".join(parts) + "\n")
    return out


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it already holds it (keeps Sphinx's cache valid)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


convert_notebooks()
write_terms_table()
write_cli_help()


def skip_generated_members(app, what, name, obj, skip, options):  # noqa: ANN001, ARG001
    """Skip the ``set_*_request`` methods scikit-learn generates on every estimator class.

    They are scikit-learn's metadata-routing machinery, not part of this package's API, and
    their docstrings link to scikit-learn's own documentation labels.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _attribute_doc(name: str, obj: object) -> list[str]:
    """Return the ``#:`` comment or docstring of ``name`` in the module that defines ``obj``.

    A registry re-exported by ``cmcd`` or ``bounds`` is documented where it is assigned; autodoc
    looks only in the package that re-exports it.
    """
    from sphinx.pycode import ModuleAnalyzer

    for modname, module in sorted(sys.modules.items()):
        if not modname.startswith(("cmcd", "bounds")) or getattr(module, name, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # noqa: BLE001 (a module without source: try the next one)
            continue
        if ("", name) in docs:
            return list(docs[("", name)])
    return []


def _entry(value: object) -> str:
    """Describe one registry value: a link to the class or function, or its short repr."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f":obj:`{value.__module__}.{value.__qualname__}`"
    text = repr(value)
    return f"``{text}``" if len(text) <= 80 else f"a ``{type(value).__name__}``"


def document_registries(app, what, name, obj, options, lines):  # noqa: ANN001, ARG001
    """Give each public registry (a module-level dict) its source comment and its entries.

    ``DEFAULTS`` gets the table of every config key, its default and its meaning, from
    :func:`cmcd.config.describe_defaults` (what ``cmcd defaults`` prints).
    """
    if what != "data" or not isinstance(obj, dict):
        return
    if name.count(".") != 1:  # only the packages' own registries (cmcd.X, bounds.X)
        return
    own = "\n".join(lines).strip()
    if not own or own == (type(obj).__doc__ or "").strip():  # autodoc gave dict's docstring
        lines[:] = _attribute_doc(name.rsplit(".", 1)[-1], obj)
    from cmcd.config import DEFAULTS, describe_defaults

    if obj is DEFAULTS:
        lines += ["", "Every key, its default and its meaning (what ``cmcd defaults`` prints):", ""]
        lines += [".. code-block:: text", ""]
        lines += [f"    {line}" for line in describe_defaults().splitlines()]
        return
    lines += ["", "Entries:", ""] + [f"- ``{key!s}``: {_entry(v)}" for key, v in obj.items()]


def setup(app):  # noqa: ANN001, ANN201
    """Register the member filter and the registry documenter."""
    app.connect("autodoc-skip-member", skip_generated_members)
    # before numpydoc (priority 500), so that numpydoc renders what this adds
    app.connect("autodoc-process-docstring", document_registries, priority=400)
