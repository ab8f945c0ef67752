// A pointwise program: `params.n_ops` operations applied to every voxel (twin of Op::apply in
// pointwise.rs; same expressions, same order). Prepended: common/float.wgsl, common/tile.wgsl.
// NaN is handled explicitly (GL's comparisons with NaN are unreliable): thresholds put it
// outside, every other op keeps it (for square, sqrt and sums that is also what arithmetic
// gives). Op codes PW_* are emitted from pointwise.rs.

struct Op {
    code: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    p: vec4<f32>,
}

struct Params {
    n_ops: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> ops: array<Op>;
@group(0) @binding(3) var<storage, read> a: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;

// t clamped to [0, 1], mapped to [y_min, y_max] (twin of window_line in pointwise.rs).
fn window_line(t: f32, y_min: f32, y_max: f32) -> f32 {
    return select(select(t, 1.0, t > 1.0), 0.0, t < 0.0) * (y_max - y_min) + y_min;
}

fn apply(op: Op, v: f32, second: f32) -> f32 {
    let p = op.p;
    if (is_nan(v)) {
        return select(v, p.w, op.code == PW_THRESHOLD);
    }
    switch op.code {
        case PW_AFFINE: {
            return v * p.x + p.y;
        }
        case PW_CLIP: {
            return select(select(v, p.y, v > p.y), p.x, v < p.x);
        }
        case PW_WINDOW_LINEAR: {
            // DICOM LINEAR (c' = c - 0.5, w' = w - 1) as the clamped line: equal to the
            // piecewise definition, which is 0 and 1 at its breakpoints.
            if (p.y == 1.0) {
                // Width 1: a step at c - 0.5.
                return select(p.w, p.z, v <= p.x - 0.5);
            }
            return window_line((v - (p.x - 0.5)) / (p.y - 1.0) + 0.5, p.z, p.w);
        }
        case PW_WINDOW_LINEAR_EXACT: {
            // DICOM LINEAR_EXACT.
            return window_line((v - p.x) / p.y + 0.5, p.z, p.w);
        }
        case PW_WINDOW_SIGMOID: {
            // DICOM SIGMOID.
            return (p.w - p.z) / (1.0 + exp(-4.0 * (v - p.x) / p.y)) + p.z;
        }
        case PW_THRESHOLD: {
            return select(p.w, p.z, v >= p.x && v <= p.y);
        }
        case PW_SQUARE: {
            return v * v;
        }
        case PW_SQRT: {
            return sqrt(v);
        }
        case PW_ADD_SECOND: {
            return v + second;
        }
        case PW_ADD_SECOND_SQUARED: {
            return v + second * second;
        }
        case PW_SHARPEN_WITH_SECOND: {
            return v + (v - second) * p.x;
        }
        case PW_SIGMOID: {
            return 1.0 / (1.0 + exp(p.y * (p.x - v)));
        }
        default: {
            return v;
        }
    }
}

@compute @workgroup_size(WORKGROUP)
fn pointwise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= tile.out_nz * tile.ny * tile.nx) {
        return;
    }
    let voxel = slab_voxel(tile, i);
    let x = voxel.x;
    let y = voxel.y;
    let z = voxel.z;
    let at = tile_in_index(tile, z, y, x);
    var v = a[at];
    let second = b[at];
    for (var k = 0u; k < params.n_ops; k++) {
        v = apply(ops[k], v, second);
    }
    dst[tile.out_offset + i] = v;
}
