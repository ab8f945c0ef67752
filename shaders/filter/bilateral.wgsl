// Bilateral filter (twin of the CPU path in bilateral.rs): a normalised sum over the box of
// radius (rz, ry, rx) with weight domain[offset] × range_table[floor(|v - centre| · scale)]
// (ITK's tabulated range Gaussian; entries past the table weigh 0).
// Prepended: common/boundary.wgsl, common/tile.wgsl, common/stage.wgsl.

struct Params {
    rz: u32,
    ry: u32,
    rx: u32,
    mode: u32,
    cval: f32,
    scale: f32,     // table entries per intensity unit
    samples: u32,   // table length; the last entry is 0
    use_cache: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> domain: array<f32>;
@group(0) @binding(3) var<storage, read> range_table: array<f32>;
@group(0) @binding(4) var<storage, read> src: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(STAGE_X, STAGE_Y, STAGE_Z)
fn bilateral(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let r = vec3<i32>(i32(params.rx), i32(params.ry), i32(params.rz));
    let origin = block_origin(wid);
    if (params.use_cache == 1u) {
        stage(li, origin, r, params.mode, params.cval);
    }
    workgroupBarrier();
    if (!in_output(origin, lid)) {
        return;
    }
    let p = origin + vec3<i32>(lid);
    var centre: f32;
    if (params.use_cache == 1u) {
        centre = staged(lid, vec3<i32>(0, 0, 0), r);
    } else {
        centre = fetch(p.z, p.y, p.x, params.mode, params.cval);
    }
    let last = params.samples - 1u;
    var num = 0.0;
    var den = 0.0;
    var k = 0u;
    for (var dz = -r.z; dz <= r.z; dz++) {
        for (var dy = -r.y; dy <= r.y; dy++) {
            for (var dx = -r.x; dx <= r.x; dx++) {
                var v: f32;
                if (params.use_cache == 1u) {
                    v = staged(lid, vec3<i32>(dx, dy, dz), r);
                } else {
                    v = fetch(p.z + dz, p.y + dy, p.x + dx, params.mode, params.cval);
                }
                let t = abs(v - centre) * params.scale;
                let index = u32(min(t, f32(last)));
                let w = domain[k] * range_table[index];
                num += w * v;
                den += w;
                k++;
            }
        }
    }
    dst[out_index(origin, lid)] = num / den;
}
