// Writes the filtered rows of a chunk back over the batch (real part: first row of the pair,
// imaginary part: second).

@group(0) @binding(1) var<storage, read> packed: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> projections: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn unpack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if i >= params.pairs * params.cols {
        return;
    }
    let pair = i / params.cols;
    let k = i % params.cols;
    let row = params.first_row + 2u * pair;
    let z = packed[pair * params.n + k];
    if row < params.total_rows {
        projections[row * params.cols + k] = z.x;
    }
    if row + 1u < params.total_rows {
        projections[(row + 1u) * params.cols + k] = z.y;
    }
}
