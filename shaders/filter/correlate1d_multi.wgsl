// Up to three 1D correlations along one axis in one pass (twin of correlate_cpu per line, see
// correlate1d.wgsl for the boundary rules): line l reads source `lines[l].x` with its own weights
// and either writes its own output (COMBINE_NONE: the shared prefixes of a separable plan, e.g.
// a Gaussian and its derivative of one input) or all lines are combined into the first output
// (COMBINE_SUM, COMBINE_ROOT_SUM_OF_SQUARES: the last passes of a plan's chains and the
// combination, e.g. the three terms of a Gaussian gradient magnitude). Prepended:
// common/boundary.wgsl, common/tile.wgsl, correlate_line.wgsl.

struct Params {
    // Per line: source (0-2), taps, taps before the centre, first weight.
    lines: array<vec4<u32>, 3>,
    axis: u32,
    count: u32,
    mode: u32,
    cval: f32,
    combine: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> src0: array<f32>;
@group(0) @binding(4) var<storage, read> src1: array<f32>;
@group(0) @binding(5) var<storage, read> src2: array<f32>;
@group(0) @binding(6) var<storage, read_write> dst0: array<f32>;
@group(0) @binding(7) var<storage, read_write> dst1: array<f32>;
@group(0) @binding(8) var<storage, read_write> dst2: array<f32>;

fn load(s: u32, i: i32) -> f32 {
    switch s {
        case 0u: { return src0[i]; }
        case 1u: { return src1[i]; }
        default: { return src2[i]; }
    }
}

@compute @workgroup_size(WORKGROUP)
fn correlate1d_multi(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if i >= tile.out_nz * tile.ny * tile.nx {
        return;
    }
    let line = line_through(slab_voxel(tile, i), params.axis);
    let c = line.c;
    let lo = line.lo;
    let hi = line.hi;
    let stride = line.stride;
    let line_start = line.start;
    var out = vec3<f32>(0.0);
    for (var l = 0u; l < params.count; l++) {
        let spec = params.lines[l];
        let taps = i32(spec.y);
        let first = c - i32(spec.z);
        var acc = 0.0;
        if first >= lo && first + taps <= hi {
            let base = line_start + (first - lo) * stride;
            for (var k = 0; k < taps; k++) {
                acc += weights[spec.w + u32(k)] * load(spec.x, base + k * stride);
            }
        } else {
            for (var k = 0; k < taps; k++) {
                let m = map_index(first + k, lo, hi, params.mode);
                var v = params.cval;
                if m != OUTSIDE {
                    v = load(spec.x, line_start + (m - lo) * stride);
                }
                acc += weights[spec.w + u32(k)] * v;
            }
        }
        out[l] = acc;
    }
    let o = tile.out_offset + i;
    switch params.combine {
        case COMBINE_SUM: {
            dst0[o] = out.x + out.y + out.z;
        }
        case COMBINE_ROOT_SUM_OF_SQUARES: {
            dst0[o] = sqrt(out.x * out.x + out.y * out.y + out.z * out.z);
        }
        default: {
            dst0[o] = out.x;
            if params.count > 1u {
                dst1[o] = out.y;
            }
            if params.count > 2u {
                dst2[o] = out.z;
            }
        }
    }
}
