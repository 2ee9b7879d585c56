"""What a release carries: licence, citation, changelog, version, and the checks' configuration."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import cmcd
from cmcd.cli.main import main

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]

#: The seed paper's authors, as /work/shared/paper-notes and the arXiv listing give them.
PAPER_AUTHORS = [
    ("Hangyu", "Lin"),
    ("Chen", "Liu"),
    ("Chengming", "Xu"),
    ("Zhengqi", "Gao"),
    ("Yanwei", "Fu"),
    ("Yuan", "Yao"),
]


@pytest.fixture(scope="module")
def citation() -> dict:
    return yaml.safe_load((REPO / "CITATION.cff").read_text())


def test_version_has_one_source():
    assert cmcd.__version__ == PROJECT["version"] == "0.1.0"


def test_citation_has_the_required_cff_keys(citation):
    assert citation["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors"):
        assert citation[key], key
    assert all("name" in a or "family-names" in a for a in citation["authors"])
    assert str(citation["version"]) == cmcd.__version__
    assert citation["license"] == PROJECT["license"]


def test_citation_prefers_the_seed_paper(citation):
    paper = citation["preferred-citation"]
    assert paper["type"] == "article"
    assert paper["title"] == (
        "A Generalization Theory of Cross-Modality Distillation with Contrastive Learning"
    )
    assert [(a["given-names"], a["family-names"]) for a in paper["authors"]] == PAPER_AUTHORS
    assert paper["year"] == 2024
    assert "2405.03355" in paper["url"]
    assert any(i["value"] == "arXiv:2405.03355" for i in paper["identifiers"])


def test_license_is_the_one_pyproject_names():
    text = (REPO / "LICENSE").read_text()
    assert PROJECT["license"] == "MIT"
    assert text.splitlines()[0] == "MIT License"
    assert "Copyright (c) 2026 The cmcd developers" in text
    assert "Permission is hereby granted, free of charge" in text
    assert PROJECT["license-files"] == ["LICENSE"]


def test_changelog_keeps_a_changelog_sections():
    text = (REPO / "CHANGELOG.md").read_text()
    heads = re.findall(r"^## \[([^\]]+)\]", text, flags=re.MULTILINE)
    assert heads[:2] == ["Unreleased", cmcd.__version__]
    assert "### Added" in text.split("## [0.1.0]")[1]


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cmcd {cmcd.__version__}"


def test_python_dash_m_version():
    proc = subprocess.run(
        [sys.executable, "-m", "cmcd", "--version"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "cmcd 0.1.0\n"


def test_dev_extra_has_the_tools_the_makefile_calls():
    names = {
        re.split(r"[<>=!~ \[]", req, maxsplit=1)[0]
        for req in PROJECT["optional-dependencies"]["dev"]
    }
    assert {"pytest", "pytest-xdist", "ruff", "mypy", "pre-commit", "build"} <= names
    makefile = (REPO / "Makefile").read_text()
    for target in ("test", "test-fast", "lint", "typecheck", "build-check"):
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.MULTILINE), target
    assert '-n 2 -m "not slow"' in makefile


def test_mypy_checks_every_module_and_ignores_only_untyped_libraries():
    overrides = PYPROJECT["tool"]["mypy"]["overrides"]
    assert not [o["module"] for o in overrides if o.get("ignore_errors")]
    ignored = [m for o in overrides if o.get("ignore_missing_imports") for m in o["module"]]
    assert not [m for m in ignored if m.split(".")[0] in ("cmcd", "bounds")]
    for module in ignored:  # a stale name would hide a typo in the list
        assert importlib.util.find_spec(module.removesuffix(".*")) is not None, module


def test_pre_commit_runs_ruff_and_mypy():
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "mypy"} <= set(hooks)
    assert hooks["mypy"]["pass_filenames"] is False  # the configured file set, every time
