// Packs two weighted detector rows into one zero-padded complex row (see ramp_params.wgsl and
// ramp_weights.wgsl) for the global-memory FFT.

@group(0) @binding(1) var<storage, read> projections: array<f32>;
@group(0) @binding(2) var<storage, read> cosine: array<f32>;
@group(0) @binding(3) var<storage, read> short_scan: array<f32>;
@group(0) @binding(4) var<storage, read_write> packed: array<vec2<f32>>;

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
