// ITK's conductance scale K = -2 κ² ⟨|∇I|²⟩ computed on the device from the moments partials of
// the squared-gradient volume (gpu/moments.wgsl: [min, max, count, mean, m2, nan_count, _, _]
// per workgroup), so diffusion never waits for the host between iterations. One workgroup:
// each thread sums count and count · mean over a stride of partials, then a tree in workgroup
// memory. Twin of the host's `Moments::merge(..).mean` (f32 sums here, f64 there).

struct Params {
    partials: u32,
    _pad0: u32,
    // -2 κ²
    factor: f32,
    _pad1: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_out: array<f32>;

var<workgroup> counts: array<f32, WORKGROUP>;
var<workgroup> sums: array<f32, WORKGROUP>;

// WORKGROUP (a power of two) comes from the runtime's constants.
@compute @workgroup_size(WORKGROUP)
fn conductance_scale(@builtin(local_invocation_index) li: u32) {
    var count = 0.0;
    var sum = 0.0;
    for (var i = li; i < params.partials; i += WORKGROUP) {
        let c = partials[i * 8u + 2u];
        count += c;
        sum += c * partials[i * 8u + 3u];
    }
    counts[li] = count;
    sums[li] = sum;
    workgroupBarrier();
    for (var half = WORKGROUP / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            counts[li] += counts[li + half];
            sums[li] += sums[li + half];
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        k_out[0] = select(0.0, params.factor * (sums[0] / counts[0]), counts[0] > 0.0);
    }
}
