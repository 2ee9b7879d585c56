#!/usr/bin/env bash
# Build the sdist and the wheel, install each into a fresh virtual environment, smoke-test it.
#
# - `python -m build` builds the sdist first and the wheel from that sdist, so a file the build
#   needs but the sdist lacks fails here.
# - The wheel must hold every module of the source tree (cmcd/**, bounds/**).
# - Each fresh venv gets torch==2.13.0 first (the local CPU wheel; a bare `torch` requirement
#   would pull a multi-GB CUDA build), then the artifact, and runs `cmcd --help`,
#   `cmcd --version` and an import smoke test from outside the repository.
# Usage: bash .ci/build-check.sh   (PY: the interpreter for the venvs, default python3;
#        BUILD_PY: the one that runs `build`, default .venv/bin/python when present)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PY:-python3}
BUILD_PY=${BUILD_PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo "$PY")}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cmcd-build-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

step() { printf '\n== %s (%ds)\n' "$1" "$(($(date +%s) - start))"; }

step "build sdist and wheel into $WORK/dist"
"$BUILD_PY" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || {
    tail -n 40 "$WORK/build.log"
    exit 1
}
wheel=$(ls "$WORK"/dist/cmcd-*.whl)
sdist=$(ls "$WORK"/dist/cmcd-*.tar.gz)
ls -l "$WORK/dist"

step "the wheel holds every module of cmcd/ and bounds/"
"$BUILD_PY" - "$wheel" "$sdist" <<'EOF'
import pathlib, sys, tarfile, zipfile

wheel, sdist = sys.argv[1:3]
source = {
    p.as_posix()
    for pkg in ("cmcd", "bounds")
    for p in pathlib.Path(pkg).rglob("*.py")
    if "__pycache__" not in p.parts
}
in_wheel = set(zipfile.ZipFile(wheel).namelist())
missing = sorted(source - in_wheel)
if missing:
    sys.exit(f"wheel lacks {len(missing)} source files: {missing[:10]}")
packages = sorted({p.rsplit("/", 1)[0] for p in source if p.endswith("/__init__.py")})
print(f"wheel: {len(source)} modules, {len(packages)} packages: {' '.join(packages)}")
names = tarfile.open(sdist).getnames()
root = names[0].split("/")[0]
for need in ("pyproject.toml", "README.md", "LICENSE", "cmcd/__init__.py", "bounds/__init__.py"):
    if f"{root}/{need}" not in names:
        sys.exit(f"sdist lacks {need}")
meta = zipfile.ZipFile(wheel)
info = [n for n in meta.namelist() if n.endswith(".dist-info/METADATA")][0]
text = meta.read(info).decode()
if "License-Expression: MIT" not in text:
    sys.exit("wheel METADATA has no License-Expression: MIT")
print(f"sdist: {len(names)} entries; METADATA names the MIT licence")
EOF

smoke() { # $1: label, $2: artifact
    local venv="$WORK/venv-$1"
    step "fresh venv for the $1: torch==2.13.0, then $(basename "$2")"
    "$PY" -m venv "$venv"
    # --no-compile: no .pyc for torch's thousands of files (minutes on a busy machine)
    local pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile)
    "${pip[@]}" torch==2.13.0 >"$WORK/pip-$1.log" 2>&1 || { tail -n 40 "$WORK/pip-$1.log"; exit 1; }
    "${pip[@]}" "$2" >>"$WORK/pip-$1.log" 2>&1 || { tail -n 40 "$WORK/pip-$1.log"; exit 1; }
    step "smoke test of the $1"
    (
        cd "$WORK" # not the repository: import what was installed
        "$venv/bin/cmcd" --help >/dev/null
        version=$("$venv/bin/cmcd" --version)
        echo "$version"
        want="cmcd $("$venv/bin/python" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["project"]["version"])' "$REPO/pyproject.toml")"
        [ "$version" = "$want" ] || { echo "cmcd --version printed '$version', want '$want'"; exit 1; }
        "$venv/bin/python" - "$venv" <<'EOF'
import pathlib, sys

import bounds
import cmcd

venv = pathlib.Path(sys.argv[1]).resolve()
for mod in (cmcd, bounds):
    where = pathlib.Path(mod.__file__).resolve()
    assert venv in where.parents, f"{mod.__name__} imported from {where}, not the venv"
assert callable(cmcd.run) and callable(bounds.estimate_tv)
import numpy as np

rng = np.random.default_rng(0)
est = bounds.estimate_tv(
    rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 3.0, method="partition",
    random_state=0,
)
assert 0.8 < est.estimate <= 1.0, est  # TV of N(0, I) and N((3, 3), I) is 0.966
import cmcd.cli.main, cmcd.data, cmcd.plotting, cmcd.runs, cmcd.train  # noqa: E401
import bounds.report, bounds.target, bounds.truth, bounds.tv  # noqa: E401
print(f"import smoke test ok: cmcd {cmcd.__version__}, estimate_tv partition {est.estimate:.3f}")
EOF
    )
}

smoke wheel "$wheel"
smoke sdist "$sdist"
step "build check passed"
