// The ramp filter of rows longer than one workgroup's memory holds, in three dispatches by the
// four-step FFT (Bailey, "FFTs in external or hierarchical memory", 1990): with n = n1 · n2,
// n2 = ROW_MAX, sample j = j1 + n1 j2 and frequency k = k2 + n2 k1,
//   X[k2 + n2 k1] = Σ_j1 ω_n1^(j1 k1) · ω_n^(j1 k2) · Σ_j2 x[j1 + n1 j2] ω_n2^(j2 k2).
// 1. `columns`: for each j1, the length-n2 transform over j2 of the pre-weighted row pair, times
//    ω_n^(j1 k2), into scratch at j1 · n2 + k2.
// 2. `middle`: for each k2, the length-n1 transform over j1, the response at k, and the inverse
//    length-n1 transform back over k1 — the inverse FFT splits the same way in reverse, so both
//    meet here — times ω_n^(-j1 k2), in place.
// 3. `rows_out`: for each j1, the inverse length-n2 transform over k2, written to the batch at
//    column j1 + n1 j2.
// Each workgroup holds ROW_MAX values: one sub-row of n2, or ROW_MAX / n1 sub-rows of n1.
// Scratch holds `pairs` rows of n complex values (a chunk that fits one binding).

// The row pair and this workgroup's index within it (j1, or the group of k2).
fn locate(wid: vec3<u32>, groups: vec3<u32>) -> vec2<u32> {
    let id = wid.x + wid.y * groups.x;
    return vec2<u32>(id / params.n1, id % params.n1);
}
