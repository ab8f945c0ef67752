// Merges the moments partials of a reduction (gpu/moments.wgsl: [min, max, count, mean, m2,
// nan_count, _, _] per workgroup) into one device scalar, so kernels recorded later read it as
// a coefficient without a host round trip (twin of PendingNorm::finish and the TV sum on the
// host, in f32 here). One workgroup: each thread sums a stride of partials, then a tree.

struct Params {
    partials: u32,
    // SCALAR_SUM: Σ v = count · mean; SCALAR_SUM_OF_SQUARES: Σ v² = m2 + count · mean².
    what: u32,
    // 1: add to the scalar (further batches of a projection stack); 0: overwrite it.
    accumulate: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> scalar: array<f32>;

var<workgroup> sums: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn merge(@builtin(local_invocation_index) li: u32) {
    var sum = 0.0;
    for (var i = li; i < params.partials; i += WORKGROUP) {
        let count = partials[i * 8u + 2u];
        let mean = partials[i * 8u + 3u];
        if count > 0.0 {
            if params.what == SCALAR_SUM_OF_SQUARES {
                sum += partials[i * 8u + 4u] + count * mean * mean;
            } else {
                sum += count * mean;
            }
        }
    }
    sums[li] = sum;
    workgroupBarrier();
    for (var half = WORKGROUP / 2u; half > 0u; half /= 2u) {
        if li < half {
            sums[li] += sums[li + half];
        }
        workgroupBarrier();
    }
    if li == 0u {
        scalar[0] = select(0.0, scalar[0], params.accumulate != 0u) + sums[0];
    }
}
