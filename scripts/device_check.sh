#!/usr/bin/env bash
# The device check, for the first machine with a real GPU (issue 17): in about 8 minutes it
#   1. records the machine (GPU, driver, Vulkan adapters, CPU),
#   2. builds the library, tests, examples and harness in release,
#   3. runs every Rust test with HOUNSFIELD_REQUIRE_GPU=1 (GPU parity on every adapter),
#   4. runs the benchmark harness at full size on the GPU workloads that matter most,
# and writes everything under docs/benchmarks/<date>-<adapter>/ (README.md, report.*, logs):
# commit that folder and quote its numbers in README as measured, beside the modelled ones.
#
#   scripts/device_check.sh [OUT]
#
# Knobs (environment): DEVICE_CHECK_SCALE (harness edge multiplier, default 1 = full size),
# DEVICE_CHECK_ONLY (comma-separated workload prefixes, default below; "all" for every one),
# DEVICE_CHECK_HARNESS_SECONDS (harness time limit, default 300), DEVICE_CHECK_SKIP_TESTS=1.
# On a machine without a GPU it still runs (on lavapipe, if installed) to check the script.
# A device machine without a Rust toolchain (the lent H200): scripts/device_pack.sh here, then
# scripts/device_run_prebuilt.sh there (see docs/benchmarks/2026-12-04-nvidia-h200/notes.md).
set -euo pipefail
cd "$(dirname "$0")/.."

export HOUNSFIELD_REQUIRE_GPU=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
scale="${DEVICE_CHECK_SCALE:-1}"
only="${DEVICE_CHECK_ONLY:-gaussian_s2,gaussian_gradient_magnitude_s2,median_r1,median_r2,uniform_3,correlate_3x3x3,grey_erosion_box1,fill_holes,histogram_256,statistics,diffusion_gradient_5it,mip_z,mip_render_30deg,resample,fbp_parallel_720,fdk_cone,backproject_cone,joseph_,voxel_driven_,cgls_2d,sirt_2d}"
harness_seconds="${DEVICE_CHECK_HARNESS_SECONDS:-300}"
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*" | tee -a "$out/device_check.log"; }

# The adapter's name names the folder (e.g. 2026-12-02-nvidia-h200).
adapter_name() {
    local name=""
    if command -v nvidia-smi >/dev/null 2>&1; then
        name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
    fi
    if [ -z "$name" ] && command -v vulkaninfo >/dev/null 2>&1; then
        name=$(vulkaninfo --summary 2>/dev/null | sed -n 's/.*deviceName *= *//p' | head -1)
    fi
    echo "${name:-unknown-gpu}" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-' | sed 's/^-//; s/-$//'
}
out="${1:-docs/benchmarks/$(date -u +%Y-%m-%d)-$(adapter_name)}"
mkdir -p "$out"
: > "$out/device_check.log"

stamp "machine"
{
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //') ($(nproc) threads)"
    echo "memory: $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB"}')"
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
    command -v vulkaninfo >/dev/null 2>&1 && vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverInfo|apiVersion|deviceType'
    rustc --version
} > "$out/machine.txt" 2>&1 || true

stamp "build (release: library, tests, examples, harness)"
cargo build --release --all-targets > "$out/build.log" 2>&1

tests_status="skipped"
if [ "${DEVICE_CHECK_SKIP_TESTS:-0}" != "1" ]; then
    stamp "tests (HOUNSFIELD_REQUIRE_GPU=1: GPU parity on every adapter)"
    if cargo test --release > "$out/tests.log" 2>&1; then
        tests_status="passed"
    else
        tests_status="FAILED (see tests.log)"
    fi
    grep -E '^test result' "$out/tests.log" | awk '{p+=$4; f+=$6} END {print "  " p " passed, " f " failed"}' | tee -a "$out/device_check.log"
fi

stamp "harness (scale $scale, workloads: $only)"
only_arg=(--only "$only")
[ "$only" = "all" ] && only_arg=()
harness_status="passed"
if ! timeout "$harness_seconds" cargo bench --bench harness -- --scale "$scale" --scaling-max 0 "${only_arg[@]}" --out "$out" \
    > "$out/harness.log" 2>&1; then
    harness_status="FAILED or timed out after $harness_seconds s (see harness.log; the workloads it finished are listed there)"
fi

stamp "done"
{
    echo "# Device check — $(adapter_name)"
    echo
    echo "Written by \`scripts/device_check.sh\` in $(( $(date +%s) - start )) s."
    echo
    echo '```'
    cat "$out/machine.txt"
    echo '```'
    echo
    echo "- Rust tests with \`HOUNSFIELD_REQUIRE_GPU=1\`: $tests_status"
    echo "- Harness at scale $scale: $harness_status — \`report.md\` / \`report.json\` here"
    echo
    echo "Measured on this machine; the harness's *model* columns are predictions, not measurements."
} > "$out/README.md"
cat "$out/README.md"
[ "$tests_status" = "passed" ] || [ "$tests_status" = "skipped" ]
