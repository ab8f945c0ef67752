// The whole ramp filter of one row pair in one workgroup (see ramp_params.wgsl): the two
// pre-weighted rows are packed as one zero-padded complex row into workgroup memory, transformed
// by radix-2 Stockham stages there (Govindaraju et al., SC 2008), multiplied by the response,
// transformed back and written over the batch — one read and one write of the projections in
// one dispatch, where the global-memory FFT (fft_stage.wgsl) takes 2·log2(n) + 2 passes through
// scratch. ROW_MAX (emitted from Rust, a power of two ≥ n) sizes the workgroup array; twiddles
// come from a table exp(-2πi m / n), m < n/2, computed on the host in double precision.
// RAMP_THREADS (invocations per workgroup) is emitted from Rust too.

@group(0) @binding(1) var<storage, read_write> projections: array<f32>;
@group(0) @binding(2) var<storage, read> cosine: array<f32>;
@group(0) @binding(3) var<storage, read> short_scan: array<f32>;
@group(0) @binding(4) var<storage, read> response: array<f32>;
@group(0) @binding(5) var<storage, read> twiddles: array<vec2<f32>>;

// Butterflies each invocation owns per stage.
const PER_THREAD: u32 = ROW_MAX / 2u / RAMP_THREADS;

var<workgroup> row: array<vec2<f32>, ROW_MAX>;

// log2(n) Stockham stages in place: every invocation reads its butterflies' inputs into
// registers, all wait, then write the outputs (one workgroup array instead of two).
fn transform(lid: u32, conjugate: bool) {
    let n = params.n;
    let half = n / 2u;
    for (var ns = 1u; ns < n; ns = ns * 2u) {
        var a0: array<vec2<f32>, PER_THREAD>;
        var a1: array<vec2<f32>, PER_THREAD>;
        for (var t = 0u; t < PER_THREAD; t++) {
            let j = lid + t * RAMP_THREADS;
            if j < half {
                a0[t] = row[j];
                a1[t] = row[j + half];
            }
        }
        workgroupBarrier();
        let stride = half / ns;
        for (var t = 0u; t < PER_THREAD; t++) {
            let j = lid + t * RAMP_THREADS;
            if j < half {
                let k = j % ns;
                var tw = twiddles[k * stride];
                if conjugate {
                    tw.y = -tw.y;
                }
                let b = a1[t];
                let b1 = vec2<f32>(b.x * tw.x - b.y * tw.y, b.x * tw.y + b.y * tw.x);
                let out = (j / ns) * 2u * ns + k;
                row[out] = a0[t] + b1;
                row[out + ns] = a0[t] - b1;
            }
        }
        workgroupBarrier();
    }
}

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
    transform(lid, false);
    // The response is real and even (1/n folded in), so it filters both rows at once.
    for (var k = lid; k < n; k += RAMP_THREADS) {
        row[k] = row[k] * response[min(k, n - k)];
    }
    workgroupBarrier();
    transform(lid, true);
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
