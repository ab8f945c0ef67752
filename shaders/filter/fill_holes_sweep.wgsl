// Hole filling by line sweeps (twin of fill_holes.rs), for volumes that fit one binding.
// Prepended: common/tile.wgsl (linear_invocation).
//
// state per voxel (f32, so that the library's pointwise ops make and read it): 0 background not
// reached yet, 1 foreground, 2 background reached from the border (connectivity 1: through faces). One invocation owns one line — a row along x, or a
// column along y or z — and sweeps it forward and back, so "reached" crosses any run of
// background in one pass: the passes needed follow the turns of the paths to the border, not
// their lengths (the step kernel, fill_holes.wgsl, advances one voxel per pass). Lines are
// disjoint, so the in-place updates of one dispatch do not race.

struct Params {
    nx: u32,
    ny: u32,
    nz: u32,
    // 0: rows along x, 1: columns along y, 2: columns along z.
    axis: u32,
    three_d: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read_write> changed: atomic<u32>;

// Seeds: background on the border of the image (z is a border axis only in 3D).
fn on_border(i: u32) -> bool {
    let x = i % params.nx;
    let y = (i / params.nx) % params.ny;
    let z = i / (params.nx * params.ny);
    var b = x == 0u || y == 0u || x == params.nx - 1u || y == params.ny - 1u;
    if (params.three_d == 1u) {
        b = b || z == 0u || z == params.nz - 1u;
    }
    return b;
}

// One line, forward then back; counts the voxels it reached.
@compute @workgroup_size(WORKGROUP)
fn sweep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let line = linear_invocation(gid, groups);
    let plane = params.nx * params.ny;
    var start: u32;
    var stride: u32;
    var len: u32;
    var lines: u32;
    if (params.axis == 0u) {
        lines = params.nz * params.ny;
        start = line * params.nx;
        stride = 1u;
        len = params.nx;
    } else if (params.axis == 1u) {
        lines = params.nz * params.nx;
        start = (line / params.nx) * plane + line % params.nx;
        stride = params.nx;
        len = params.ny;
    } else {
        lines = plane;
        start = line;
        stride = plane;
        len = params.nz;
    }
    if (line >= lines) {
        return;
    }
    var added = 0u;
    var carry = false;
    for (var k = 0u; k < len; k++) {
        let at = start + k * stride;
        let s = state[at];
        if (s == 1.0) {
            carry = false;
        } else if (s == 2.0) {
            carry = true;
        } else if (carry || on_border(at)) {
            state[at] = 2.0;
            added += 1u;
            carry = true;
        }
    }
    carry = false;
    for (var k = len; k > 0u; k--) {
        let at = start + (k - 1u) * stride;
        let s = state[at];
        if (s == 1.0) {
            carry = false;
        } else if (s == 2.0) {
            carry = true;
        } else if (carry) {
            state[at] = 2.0;
            added += 1u;
        }
    }
    if (added > 0u) {
        atomicAdd(&changed, added);
    }
}
