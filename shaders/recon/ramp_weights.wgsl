// The pre-weighted sample k of batch row `row`, 0 past the rows and the columns (the zero
// padding). Weights, each when its flag is set: cosine[row, col] (FDK pre-weight) ×
// short_scan[view, col] (Parker); none for parallel FBP. Needs `projections`, `cosine` and
// `short_scan` bindings.
fn weighted(row: u32, k: u32) -> f32 {
    if row >= params.total_rows || k >= params.cols {
        return 0.0;
    }
    var w = 1.0;
    if (params.weights & WEIGHT_COSINE) != 0u {
        w = cosine[(row % params.rows) * params.cols + k];
    }
    if (params.weights & WEIGHT_SHORT_SCAN) != 0u {
        let view = params.first_view + row / params.rows;
        w = w * short_scan[view * params.cols + k];
    }
    return projections[row * params.cols + k] * w;
}
