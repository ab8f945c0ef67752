// Maximum / minimum / mean intensity projection along one axis (twin of projection.rs), NaN
// ignored (numpy's nanmax / nanmin / nanmean); a line of NaN only gives NaN.
// Prepended: common/float.wgsl, common/tile.wgsl.
//
// The output keeps the projected axis with length 1. For a projection along z, one output
// slice reads every input slice; when they do not fit one binding the runtime binds them in
// chunks, and the running value and count carry over between chunks in `dst` and `count`.

struct Params {
    kind: u32, // 0 max, 1 min, 2 mean
    axis: u32,
    first: u32, // first chunk: start afresh
    last: u32,  // last chunk: finish (mean, empty lines)
}

@group(0) @binding(0) var<uniform> mapping: Mapping;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read_write> count: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn project(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= mapping.out_nz * mapping.out_ny * mapping.out_nx) {
        return;
    }
    let x = i % mapping.out_nx;
    let rest = i / mapping.out_nx;
    let y = rest % mapping.out_ny;
    let z = rest / mapping.out_ny + mapping.out_z0;
    let o = mapping.out_offset + i;
    var acc = 0.0;
    var n = 0.0;
    if (params.first == 0u) {
        acc = dst[o];
        n = count[i];
    }
    var len: u32;
    switch params.axis {
        case 0u: {
            len = mapping.in_z_count;
        }
        case 1u: {
            len = mapping.in_ny;
        }
        default: {
            len = mapping.in_nx;
        }
    }
    for (var k = 0u; k < len; k++) {
        var at: u32;
        switch params.axis {
            case 0u: {
                at = mapped_in_index(mapping, mapping.in_z_first + k, y, x);
            }
            case 1u: {
                at = mapped_in_index(mapping, z, k, x);
            }
            default: {
                at = mapped_in_index(mapping, z, y, k);
            }
        }
        let v = src[at];
        if (!is_nan(v)) {
            if (n == 0.0) {
                acc = v;
            } else if (params.kind == 0u) {
                acc = max(acc, v);
            } else if (params.kind == 1u) {
                acc = min(acc, v);
            } else {
                acc += v;
            }
            n += 1.0;
        }
    }
    if (params.last == 1u) {
        if (n == 0.0) {
            acc = bitcast<f32>(0x7fc00000u);
        } else if (params.kind == 2u) {
            acc = acc / n;
        }
    } else {
        count[i] = n;
    }
    dst[o] = acc;
}
