// Inclusive prefix sums across a workgroup of LABEL_THREADS invocations (Hillis & Steele), for
// the labelling's scan and number kernels. Every invocation must call it (it has barriers).

var<workgroup> scan_cells: array<u32, LABEL_THREADS>;

// The sum of `value` over invocations 0..=lid; afterwards scan_cells[LABEL_THREADS - 1] holds
// the workgroup's total.
fn workgroup_inclusive_sum(lid: u32, value: u32) -> u32 {
    scan_cells[lid] = value;
    workgroupBarrier();
    for (var d = 1u; d < LABEL_THREADS; d <<= 1u) {
        var v = scan_cells[lid];
        if (lid >= d) {
            v += scan_cells[lid - d];
        }
        workgroupBarrier();
        scan_cells[lid] = v;
        workgroupBarrier();
    }
    return scan_cells[lid];
}
