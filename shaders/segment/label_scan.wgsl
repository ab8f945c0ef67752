// Labelling, step 4 (one workgroup): the blocks' root counts become exclusive prefix sums, the
// first label of each block minus one; counts[blocks] receives the number of components.
// Prepended: label_params.wgsl, label_workgroup_sum.wgsl.

@group(0) @binding(1) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(LABEL_THREADS)
fn scan(@builtin(local_invocation_index) lid: u32) {
    let per = (params.blocks + LABEL_THREADS - 1u) / LABEL_THREADS;
    let first = min(lid * per, params.blocks);
    let last = min(first + per, params.blocks);
    var sum = 0u;
    for (var b = first; b < last; b += 1u) {
        sum += counts[b];
    }
    let inclusive = workgroup_inclusive_sum(lid, sum);
    var running = inclusive - sum;
    for (var b = first; b < last; b += 1u) {
        let c = counts[b];
        counts[b] = running;
        running += c;
    }
    if (lid == LABEL_THREADS - 1u) {
        counts[params.blocks] = inclusive;
    }
}
