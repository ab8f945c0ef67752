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
    // Index of the batch's first view in the short-scan weight table.
    first_view: u32,
    // WEIGHT_COSINE | WEIGHT_SHORT_SCAN: the pre-weights applied while reading.
    weights: u32,
    // Four-step kernels: n = n1 · ROW_MAX.
    n1: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: RampParams;
