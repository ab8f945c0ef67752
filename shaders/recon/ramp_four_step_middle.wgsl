// Step 2 of the four-step ramp filter (ramp_four_step.wgsl).

@group(0) @binding(1) var<storage, read> response: array<f32>;
@group(0) @binding(2) var<storage, read> twiddles: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> scratch: array<vec2<f32>>;

@compute @workgroup_size(RAMP_THREADS)
fn middle(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let at = locate(wid, groups);
    let pair = at.x;
    if pair >= params.pairs {
        return;
    }
    let n1 = params.n1;
    // Sub-row g holds frequency column k2 = first_k2 + g.
    let first_k2 = at.y * (ROW_MAX / n1);
    for (var t = lid; t < ROW_MAX; t += RAMP_THREADS) {
        let k2 = first_k2 + t / n1;
        row[t] = scratch[pair * params.n + (t % n1) * ROW_MAX + k2];
    }
    workgroupBarrier();
    transform(lid, ROW_MAX, n1, false);
    // The response is real and even (1/n folded in), so it filters both rows at once.
    for (var t = lid; t < ROW_MAX; t += RAMP_THREADS) {
        let k = first_k2 + t / n1 + ROW_MAX * (t % n1);
        row[t] = row[t] * response[min(k, params.n - k)];
    }
    workgroupBarrier();
    transform(lid, ROW_MAX, n1, true);
    for (var t = lid; t < ROW_MAX; t += RAMP_THREADS) {
        let k2 = first_k2 + t / n1;
        let j1 = t % n1;
        let w = omega(j1 * k2);
        scratch[pair * params.n + j1 * ROW_MAX + k2] = times(row[t], vec2<f32>(w.x, -w.y));
    }
}
