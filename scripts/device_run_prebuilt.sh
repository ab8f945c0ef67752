#!/usr/bin/env bash
# The device check for a GPU machine that has no Rust toolchain (the lent H200 has none and
# cannot fetch one): scripts/device_pack.sh builds the tests, examples, harness and wheel here
# and packs them into .dev/; this script runs them there, each stage under its own time cap
# so that a hang costs one stage, not the whole lease, and leaves one archive of results.
#
#   scripts/device_run_prebuilt.sh RESULTS_DIR [DEADLINE_SECONDS]   (default 540)
#
# The device call that ran it first (2026-12-04; 333 s of the lease's command time):
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; bash scripts/device_run_prebuilt.sh /tmp/res 540;
#   cp /tmp/res/device_check.log $OUT/; tar -czf $OUT/results.tar.gz -C /tmp res
# with carry [".gl", ".dev"] and timeout_s 600 (.gl: the Vulkan loader's .deb files, fetched as
# the device tool's README says).
#
# Stages: machine facts; the probe (examples/gpu_probe.rs); every Rust test binary with HOUNSFIELD_REQUIRE_GPU=1 (GPU parity on
# every adapter); the harness at full size in four groups (each writes its own report, so a
# group cut short loses only itself); the Python tests through the wheel.
# Knobs: DEVICE_SCALE (harness edge multiplier, default 1), DEVICE_GROUPS (which harness
# groups, default "1 2 3 4"), DEVICE_PYTEST=0 to skip the Python tests.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
res="${1:?results folder}"
deadline=$(( $(date +%s) + ${2:-540} ))
scale="${DEVICE_SCALE:-1}"
mkdir -p "$res"
log="$res/device_check.log"
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*" | tee -a "$log"; }
# A stage's time: its own cap, or what is left before the deadline, whichever is less.
cap() { local left=$(( deadline - $(date +%s) )); (( left < $1 )) && echo $(( left > 5 ? left : 5 )) || echo "$1"; }

export HOUNSFIELD_REQUIRE_GPU=1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
# The NVIDIA image names its Vulkan driver here; wgpu finds it through the loader.
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi

stamp "machine"
{
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(cat .dev/COMMIT 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) threads)"
    echo "memory: $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB"}')"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
} > "$res/machine.txt" 2>&1
cat "$res/machine.txt" | tee -a "$log"

# Test binaries find their fixtures through the manifest folder they were built in, and the
# example smoke tests find the examples in ../examples beside their own folder.
bins=/tmp/hounsfield-bins
rm -rf "$bins" && mkdir -p "$bins"
stamp "unpack"
# Python's lzma stands in where the image has no xz.
if command -v xz >/dev/null; then
    xz -dc .dev/bins.tar.xz | tar -x -C "$bins"
else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' .dev/bins.tar.xz "$bins"
fi || { stamp "unpack failed"; exit 1; }
manifest=$(cat .dev/MANIFEST_DIR)
if [ "$manifest" != "$repo" ] && [ ! -e "$manifest" ]; then
    mkdir -p "$(dirname "$manifest")" && ln -s "$repo" "$manifest"
fi

# The probe first: it separates allocation, transfers, a streaming kernel and the staged
# filters (the gaps the first H200 run left open); clocks read around it.
t=$(cap 45)
stamp "probe (cap $t s)"
{
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=clocks.sm,clocks.mem,pstate --format=csv
    timeout "$t" "$bins/examples/gpu_probe" --runs 5
    echo "probe exit $?"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=clocks.sm,clocks.mem,pstate --format=csv
} > "$res/probe.md" 2>&1
tail -22 "$res/probe.md" | tee -a "$log"

stamp "tests (HOUNSFIELD_REQUIRE_GPU=1)"
t=$(cap "${DEVICE_TEST_CAP:-60}")
mkdir -p "$res/tests"
: > "$res/tests/exit_codes.txt"
# Three binaries at a time (each runs its tests on several threads already), all of them
# stopped at the stage's end; a binary never started is listed as such.
stage_end=$(( $(date +%s) + t ))
all=$(ls "$bins/deps" | grep -v '^dicom_conformance$')
echo "$all" | xargs -P 3 -I{} sh -c 'left=$(( '"$stage_end"' - $(date +%s) ))
    if [ "$left" -le 0 ]; then echo "{} not started" >> '"$res"'/tests/exit_codes.txt; exit 0; fi
    timeout "$left" '"$bins"'/deps/{} > '"$res"'/tests/{}.log 2>&1
    echo "{} exit $?" >> '"$res"'/tests/exit_codes.txt'
passed=$(cat "$res"/tests/*.log 2>/dev/null | awk '/^test result/ {p+=$4} END {print p+0}')
failed=$(cat "$res"/tests/*.log 2>/dev/null | awk '/^test result/ {f+=$6} END {print f+0}')
clean=$(grep -c ' exit 0$' "$res/tests/exit_codes.txt")
stamp "tests: $passed passed, $failed failed; $clean of $(echo "$all" | wc -l) binaries exited 0 (124: cut at the cap)"
grep -v ' exit 0$' "$res/tests/exit_codes.txt" | tee -a "$log"

groups=(
    ""
    "gaussian_s2,gaussian_gradient_magnitude_s2,median_r1,median_r2,uniform_3,correlate_3x3x3,grey_erosion_box1,fill_holes,diffusion_gradient_5it,mip_z,mip_render_30deg,resample"
    "histogram_256,statistics,threshold_otsu_256,label_ct_mask,edt_ct_mask,watershed_ct_peaks,label_histograms_ct"
    "fbp_parallel_720,fbp_fan_720,fdk_cone,backproject_cone,joseph_,voxel_driven_,separable_footprint_,cgls_2d,sirt_2d"
    "correlate1d,convolve,sobel,prewitt,laplace,gaussian_laplace,gradient_magnitude,unsharp,bilateral,diffusion_curvature,grey_dilation,binary_opening,window,threshold_into,rescale,clip,sigmoid,fdk_cylindrical,fdk_helical,transmission,stripe_removal,os_sart,mlem,osem,fista"
)
caps=(0 70 70 150 100)
for g in ${DEVICE_GROUPS:-2 1 3 4}; do
    t=$(cap "${caps[$g]}")
    stamp "harness group $g (scale $scale, cap $t s)"
    ( cd "$repo" && timeout "$t" "$bins/harness" --scale "$scale" --scaling-max 0 --only "${groups[$g]}" --out "$res/harness$g" ) \
        > "$res/harness$g.log" 2>&1
    stamp "harness group $g exit $?"
done

if [ "${DEVICE_PYTEST:-1}" = "1" ] && ls .dev/*.whl >/dev/null 2>&1; then
    stamp "python tests through the wheel"
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/hounsfield-site .dev/*.whl > "$res/pytest.log" 2>&1
    # The first lease's pytest printed nothing in 40 s: first the import and the adapters alone.
    ( cd /tmp && PYTHONPATH=/tmp/hounsfield-site PYTHONUNBUFFERED=1 timeout 20 python3 -X importtime -c \
        'import hounsfield as h; print("adapters:", h.gpu_adapters())' ) >> "$res/pytest.log" 2>&1
    echo "import check exit $?" >> "$res/pytest.log"
    t=$(cap 40)
    ( cd /tmp && PYTHONPATH=/tmp/hounsfield-site PYTHONUNBUFFERED=1 timeout "$t" python3 -m pytest -v -p no:cacheprovider \
        --continue-on-collection-errors "$repo/python/tests" ) >> "$res/pytest.log" 2>&1
    stamp "pytest exit $?: $(tail -1 "$res/pytest.log")"
fi
stamp "done"
