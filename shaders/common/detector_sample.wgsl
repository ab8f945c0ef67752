// Bilinear sample of view `view` of a batch of projections (`views × rows × cols`); 0 off the
// detector. Shared by the back-projectors (backproject.wgsl, helical_backproject.wgsl): it reads
// the including shader's `projections` binding and its `params.rows` / `params.cols` (WGSL
// resolves module-scope names in any order).
fn sample(view: u32, col: f32, row: f32) -> f32 {
    let last_col = f32(params.cols - 1u);
    let last_row = f32(params.rows - 1u);
    if !(col >= 0.0 && col <= last_col && row >= 0.0 && row <= last_row) {
        return 0.0;
    }
    let c0 = min(u32(col), params.cols - 1u);
    let r0 = min(u32(row), params.rows - 1u);
    let c1 = min(c0 + 1u, params.cols - 1u);
    let r1 = min(r0 + 1u, params.rows - 1u);
    let fc = col - f32(c0);
    let fr = row - f32(r0);
    let base = view * params.rows * params.cols;
    let top = mix(projections[base + r0 * params.cols + c0], projections[base + r0 * params.cols + c1], fc);
    let bottom = mix(projections[base + r1 * params.cols + c0], projections[base + r1 * params.cols + c1], fc);
    return mix(top, bottom, fr);
}
