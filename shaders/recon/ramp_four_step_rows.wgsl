// Step 3 of the four-step ramp filter (ramp_four_step.wgsl).

@group(0) @binding(1) var<storage, read_write> projections: array<f32>;
@group(0) @binding(2) var<storage, read> twiddles: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> scratch: array<vec2<f32>>;

@compute @workgroup_size(RAMP_THREADS)
fn rows_out(
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
    for (var k2 = lid; k2 < ROW_MAX; k2 += RAMP_THREADS) {
        row[k2] = scratch[pair * params.n + j1 * ROW_MAX + k2];
    }
    workgroupBarrier();
    transform(lid, ROW_MAX, ROW_MAX, true);
    let first = params.first_row + 2u * pair;
    for (var j2 = lid; j2 < ROW_MAX; j2 += RAMP_THREADS) {
        let c = j1 + params.n1 * j2;
        if c < params.cols {
            let z = row[j2];
            if first < params.total_rows {
                projections[first * params.cols + c] = z.x;
            }
            if first + 1u < params.total_rows {
                projections[(first + 1u) * params.cols + c] = z.y;
            }
        }
    }
}
