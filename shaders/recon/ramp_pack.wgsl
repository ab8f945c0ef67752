// Packs two weighted detector rows into one zero-padded complex row (see ramp_params.wgsl).
// Weights, each when its flag is set: cosine[row, col] (FDK pre-weight) × short[view, col]
// (Parker); none for parallel FBP.

@group(0) @binding(1) var<storage, read> projections: array<f32>;
@group(0) @binding(2) var<storage, read> cosine: array<f32>;
@group(0) @binding(3) var<storage, read> short_scan: array<f32>;
@group(0) @binding(4) var<storage, read_write> packed: array<vec2<f32>>;

fn weighted(row: u32, k: u32) -> f32 {
    if row >= params.total_rows || k >= params.cols {
        return 0.0;
    }
    var w = 1.0;
    if (params.weights & WEIGHT_COSINE) != 0u {
        w = cosine[(row % params.rows) * params.cols + k];
    }
    if (params.weights & WEIGHT_SHORT_SCAN) != 0u {
        let view = params.first_view + row / params.rows;
        w = w * short_scan[view * params.cols + k];
    }
    return projections[row * params.cols + k] * w;
}

@compute @workgroup_size(WORKGROUP)
fn pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if i >= params.pairs * params.n {
        return;
    }
    let pair = i / params.n;
    let k = i % params.n;
    let row = params.first_row + 2u * pair;
    packed[i] = vec2<f32>(weighted(row, k), weighted(row + 1u, k));
}
