// Labelling, step 4 (one workgroup): the blocks' root counts become exclusive prefix sums, the
// first label of each block minus one; counts[blocks] receives the number of components.
// Prepended: label_params.wgsl.

@group(0) @binding(1) var<storage, read_write> counts: array<u32>;

var<workgroup> partial: array<u32, LABEL_THREADS>;

@compute @workgroup_size(LABEL_THREADS)
fn scan(@builtin(local_invocation_index) lid: u32) {
    let per = (params.blocks + LABEL_THREADS - 1u) / LABEL_THREADS;
    let first = min(lid * per, params.blocks);
    let last = min(first + per, params.blocks);
    var sum = 0u;
    for (var b = first; b < last; b += 1u) {
        sum += counts[b];
    }
    partial[lid] = sum;
    workgroupBarrier();
    // Inclusive scan of the invocations' sums (Hillis & Steele).
    for (var d = 1u; d < LABEL_THREADS; d <<= 1u) {
        var v = partial[lid];
        if (lid >= d) {
            v += partial[lid - d];
        }
        workgroupBarrier();
        partial[lid] = v;
        workgroupBarrier();
    }
    var running = partial[lid] - sum;
    for (var b = first; b < last; b += 1u) {
        let c = counts[b];
        counts[b] = running;
        running += c;
    }
    if (lid == LABEL_THREADS - 1u) {
        counts[params.blocks] = partial[lid];
    }
}
