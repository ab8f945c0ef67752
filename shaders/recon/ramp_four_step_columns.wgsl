// Step 1 of the four-step ramp filter (ramp_four_step.wgsl).

@group(0) @binding(1) var<storage, read> projections: array<f32>;
@group(0) @binding(2) var<storage, read> cosine: array<f32>;
@group(0) @binding(3) var<storage, read> short_scan: array<f32>;
@group(0) @binding(4) var<storage, read> twiddles: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> scratch: array<vec2<f32>>;

@compute @workgroup_size(RAMP_THREADS)
fn columns(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let at = locate(wid, groups);
    let pair = at.x;
    let j1 = at.y;
    if pair >= params.pairs {
        return;
    }
    let first = params.first_row + 2u * pair;
    for (var j2 = lid; j2 < ROW_MAX; j2 += RAMP_THREADS) {
        let c = j1 + params.n1 * j2;
        row[j2] = vec2<f32>(weighted(first, c), weighted(first + 1u, c));
    }
    workgroupBarrier();
    transform(lid, ROW_MAX, ROW_MAX, false);
    for (var k2 = lid; k2 < ROW_MAX; k2 += RAMP_THREADS) {
        scratch[pair * params.n + j1 * ROW_MAX + k2] = times(row[k2], omega(j1 * k2));
    }
}
