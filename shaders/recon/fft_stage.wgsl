// One radix-2 Stockham stage over every row of a chunk (Govindaraju et al., SC 2008): no bit
// reversal, the output lands in natural order after log2(n) stages. Invocation j of a row
// combines elements j and j + n/2 of the previous stage into positions
// (j / ns) * 2ns + j % ns and that + ns. The first inverse stage multiplies its inputs by the
// filter's response (real, even; 1/n folded in), so filtering costs no extra pass.

@group(0) @binding(1) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> response: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec2<f32>>;

const PI: f32 = 3.14159265358979;

fn load(row: u32, k: u32) -> vec2<f32> {
    let z = src[row * params.n + k];
    if params.apply_response != 0u {
        return z * response[min(k, params.n - k)];
    }
    return z;
}

@compute @workgroup_size(WORKGROUP)
fn stage(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let half = params.n / 2u;
    let i = linear_invocation(gid, groups);
    if i >= params.pairs * half {
        return;
    }
    let row = i / half;
    let j = i % half;
    let k = j % params.ns;
    let a0 = load(row, j);
    let a1 = load(row, j + half);
    let angle = params.sign * PI * f32(k) / f32(params.ns);
    let tw = vec2<f32>(cos(angle), sin(angle));
    let b1 = vec2<f32>(a1.x * tw.x - a1.y * tw.y, a1.x * tw.y + a1.y * tw.x);
    let out = row * params.n + (j / params.ns) * 2u * params.ns + k;
    dst[out] = a0 + b1;
    dst[out + params.ns] = a0 - b1;
}
