#!/usr/bin/env bash
# Every test of the project, on a fresh machine: the Rust tests (library, examples, harness),
# then the Python package — a virtual environment is created under target/, the extension built
# into it with maturin, and its pytest suite run against scipy and scikit-image (and on Dask:
# the package's optional [dask] extra is installed here; the geometry converters against
# itk-rtk and astra-toolbox).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --release

venv="${HOUNSFIELD_VENV:-$PWD/target/venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "maturin>=1.9,<2" numpy scipy scikit-image pytest "dask[array]" distributed zarr \
    itk-rtk astra-toolbox
(cd python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --release --quiet)
"$venv/bin/python" -m pytest -q python/tests

# The wheel users install: built once (abi3, CPython >= 3.9), installed into a clean virtual
# environment with numpy 1.26 (the suite above ran numpy 2.x) and no Rust toolchain on PATH,
# then smoke-tested from outside the source tree.
rm -rf target/wheels
(cd python && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin build --release --quiet --out ../target/wheels)
clean="$PWD/target/wheel-venv"
rm -rf "$clean"
python3 -m venv "$clean"
(
    cd /tmp
    export PATH="$clean/bin:/usr/bin:/bin"
    "$clean/bin/python" -m pip install --quiet --only-binary :all: "numpy==1.26.*" "$OLDPWD"/target/wheels/hounsfield-*.whl
    "$clean/bin/python" "$OLDPWD/scripts/wheel_smoke.py"
)
