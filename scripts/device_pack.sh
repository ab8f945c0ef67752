#!/usr/bin/env bash
# Packs what scripts/device_run_prebuilt.sh runs on a GPU machine without a Rust toolchain:
# every release test binary and example, the benchmark harness and the Python wheel, built
# here, stripped, in one archive under .dev/ (git-ignored; name it in the device tool's carry).
# The binaries share most of their code (wgpu, naga, the library), so one solid xz stream with
# a dictionary larger than a binary packs ~315 MB of them into ~24 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.dev/' .git/info/exclude 2>/dev/null || echo /.dev/ >> .git/info/exclude
rm -rf .dev && mkdir -p .dev
stage=$(mktemp -d)
mkdir -p "$stage/deps" "$stage/examples"
cargo test --release --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["kind"][0], m["target"]["name"], m["executable"])' |
    while read -r kind name path; do
        case $kind in
            example) cp "$path" "$stage/examples/$name" ;;
            lib) cp "$path" "$stage/deps/hounsfield-lib" ;;
            *) cp "$path" "$stage/deps/$name" ;;
        esac
    done
harness=$(cargo bench --bench harness --no-run 2>&1 | sed -n 's/.*Executable benches\/harness\/main.rs (\(.*\))/\1/p')
cp "$harness" "$stage/harness"
strip "$stage"/deps/* "$stage"/examples/* "$stage/harness"
(cd "$stage" && tar -cf - deps examples harness) | xz -9 -T2 --lzma2=preset=9,dict=512MiB > .dev/bins.tar.xz
rm -rf "$stage"
if [ -x target/venv/bin/maturin ]; then
    target/venv/bin/maturin build --release -m python/Cargo.toml -o .dev >/dev/null
fi
git rev-parse HEAD > .dev/COMMIT
echo "$PWD" > .dev/MANIFEST_DIR
du -sh .dev/*
