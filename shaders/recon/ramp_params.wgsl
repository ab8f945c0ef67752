// Parameters shared by the ramp-filter kernels (twin of RampParams in src/recon/ramp.rs).
// The batch's detector rows (views × rows of `cols` samples) are filtered in chunks of row
// pairs: pair p holds rows first_row + 2p (real part) and + 2p + 1 (imaginary part), zero-padded
// to n, so one complex FFT filters two rows (the response is real and even).
struct RampParams {
    cols: u32,
    rows: u32,
    n: u32,
    pairs: u32,
    first_row: u32,
    total_rows: u32,
    // Sub-transform length of this Stockham stage, and the exponent's sign (-1 forward).
    ns: u32,
    sign: f32,
    // Index of the batch's first view in the short-scan weight table.
    first_view: u32,
    // 1: multiply by the response while reading (the first inverse stage).
    apply_response: u32,
    // WEIGHT_COSINE | WEIGHT_SHORT_SCAN: the pre-weights the pack kernel applies.
    weights: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: RampParams;


fn linear_invocation(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WORKGROUP;
}
