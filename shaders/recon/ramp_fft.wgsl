// Radix-2 Stockham FFTs in workgroup memory (Govindaraju et al., SC 2008), shared by the ramp
// filter's kernels: `row` holds ROW_MAX complex values as ROW_MAX / length independent sub-rows
// of `length` (a power of two), all transformed at once. Twiddles come from the `twiddles`
// table, exp(-2πi m / n) for m < n/2 with n = params.n (computed on the host in double
// precision); every sub-row length divides n. RAMP_THREADS and ROW_MAX are emitted from Rust.

// Butterflies each invocation owns per stage.
const PER_THREAD: u32 = ROW_MAX / 2u / RAMP_THREADS;

var<workgroup> row: array<vec2<f32>, ROW_MAX>;

// exp(-2πi m / n) for any m (the table holds the first half turn).
fn omega(m: u32) -> vec2<f32> {
    let r = m % params.n;
    let half = params.n / 2u;
    if r < half {
        return twiddles[r];
    }
    return -twiddles[r - half];
}

fn times(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// log2(length) stages in place: every invocation reads its butterflies' inputs into registers,
// all wait, then write the outputs (one workgroup array instead of two). `conjugate`: the
// inverse transform (unnormalised). Outputs in natural order within each sub-row. Only the first
// `span` values (whole sub-rows) are transformed.
fn transform(lid: u32, span: u32, length: u32, conjugate: bool) {
    let half = length / 2u;
    for (var ns = 1u; ns < length; ns = ns * 2u) {
        var a0: array<vec2<f32>, PER_THREAD>;
        var a1: array<vec2<f32>, PER_THREAD>;
        for (var t = 0u; t < PER_THREAD; t++) {
            let b = lid + t * RAMP_THREADS;
            if 2u * b < span {
                let base = (b / half) * length;
                let j = b % half;
                a0[t] = row[base + j];
                a1[t] = row[base + j + half];
            }
        }
        workgroupBarrier();
        // exp(-πi k / ns) = table[k · n / (2 ns)].
        let stride = params.n / (2u * ns);
        for (var t = 0u; t < PER_THREAD; t++) {
            let b = lid + t * RAMP_THREADS;
            if 2u * b < span {
                let base = (b / half) * length;
                let j = b % half;
                let k = j % ns;
                var tw = twiddles[k * stride];
                if conjugate {
                    tw.y = -tw.y;
                }
                let b1 = times(a1[t], tw);
                let out = base + (j / ns) * 2u * ns + k;
                row[out] = a0[t] + b1;
                row[out + ns] = a0[t] - b1;
            }
        }
        workgroupBarrier();
    }
}
