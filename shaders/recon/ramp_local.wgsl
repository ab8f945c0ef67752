// The whole ramp filter of one row pair in one workgroup (see ramp_params.wgsl): the two
// pre-weighted rows are packed as one zero-padded complex row into workgroup memory, transformed
// (ramp_fft.wgsl), multiplied by the response, transformed back and written over the batch —
// one read and one write of the projections in one dispatch. ROW_MAX (emitted from Rust, a
// power of two ≥ n) sizes the workgroup array. Rows longer than the adapter's workgroup memory
// holds take the four-step kernels (ramp_four_step.wgsl).

@group(0) @binding(1) var<storage, read_write> projections: array<f32>;
@group(0) @binding(2) var<storage, read> cosine: array<f32>;
@group(0) @binding(3) var<storage, read> short_scan: array<f32>;
@group(0) @binding(4) var<storage, read> response: array<f32>;
@group(0) @binding(5) var<storage, read> twiddles: array<vec2<f32>>;

@compute @workgroup_size(RAMP_THREADS)
fn filter_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let pair = wid.x + wid.y * groups.x;
    if pair >= params.pairs {
        return;
    }
    let n = params.n;
    let first = params.first_row + 2u * pair;
    for (var k = lid; k < n; k += RAMP_THREADS) {
        row[k] = vec2<f32>(weighted(first, k), weighted(first + 1u, k));
    }
    workgroupBarrier();
    transform(lid, n, n, false);
    // The response is real and even (1/n folded in), so it filters both rows at once.
    for (var k = lid; k < n; k += RAMP_THREADS) {
        row[k] = row[k] * response[min(k, n - k)];
    }
    workgroupBarrier();
    transform(lid, n, n, true);
    for (var k = lid; k < params.cols; k += RAMP_THREADS) {
        let z = row[k];
        if first < params.total_rows {
            projections[first * params.cols + k] = z.x;
        }
        if first + 1u < params.total_rows {
            projections[(first + 1u) * params.cols + k] = z.y;
        }
    }
}
