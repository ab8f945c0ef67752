// Helical FDK back-projection of one batch of filtered views into one z-slab (twin of
// HelicalFdk::reconstruct_cpu and Helix::weight in src/recon/helical.rs): one invocation per
// voxel; for every view that sees the voxel, the row weight of this measurement over the sum
// of the row weights of every measurement of the same line (the same source angle at each
// turn, and the complementary angle where the line leaves the source circle).
//
// table: 4 vec4 per view: rows U, V, W of the projection matrix over (x, y, z, 1) voxel
// indices, then (view weight, source angle θ, angle turned since the first view, 0).

struct Params {
    slab: VolumeSlab,
    nx: u32,
    ny: u32,
    cols: u32,
    rows: u32,
    views: u32,
    first_view: u32,
    arc: u32,
    _pad0: u32,
    arc_scale: f32,
    arc_centre: f32,
    arc_centre_row: f32,
    flat_top: f32,
    sid: f32,
    sdd: f32,
    // Row pitch on the detector (mm) and the row of the source's height.
    dv: f32,
    centre_row: f32,
    theta_first: f32,
    // +1 when the source turns towards increasing angles.
    direction: f32,
    z_first: f32,
    feed_per_radian: f32,
    // The turned angles the scan spans (its views ± half a gap).
    lo: f32,
    hi: f32,
    // Angular span of the end tapers.
    taper: f32,
    _pad1: f32,
    // Voxel (0, 0, 0) centre and voxel size, (x, y, z) mm.
    origin: vec4<f32>,
    spacing: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> table: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> projections: array<f32>;
@group(0) @binding(3) var<storage, read_write> volume: array<f32>;

const TAU: f32 = 6.283185307179586;

fn row_weight(t: f32) -> f32 {
    let a = abs(t);
    if a >= 1.0 {
        return 0.0;
    }
    if a <= params.flat_top {
        return 1.0;
    }
    let c = cos(1.5707963267948966 * (a - params.flat_top) / (1.0 - params.flat_top));
    return c * c;
}

// Distance from the source at angle θ (sin, cos) to p that sets the magnification.
fn magnifying_distance(p: vec3<f32>, s: f32, c: f32) -> f32 {
    let along = p.x * s + p.y * c + params.sid;
    if params.arc != 0u {
        return length(vec2<f32>(p.x * c - p.y * s, along));
    }
    return along;
}

// Normalised detector row of p from the source after `turned` radians.
fn normalised_row(p: vec3<f32>, turned: f32, distance: f32) -> f32 {
    let z_source = params.z_first + params.feed_per_radian * turned;
    let row = (p.z - z_source) * params.sdd / distance / params.dv + params.centre_row;
    let half = (f32(params.rows) - 1.0) / 2.0;
    return (row - half) / half;
}

// 0 → 1 (cos²) over the scan's first and last `taper` radians (none when taper is 0).
fn end_taper(turned: f32) -> f32 {
    if params.taper <= 0.0 {
        return 1.0;
    }
    let edge = clamp(min(turned - params.lo, params.hi - turned) / params.taper, 0.0, 1.0);
    let c = cos(1.5707963267948966 * (1.0 - edge));
    return c * c;
}

fn turns_sum(p: vec3<f32>, turned: f32, distance: f32) -> f32 {
    var t = turned - TAU * floor(turned / TAU);
    if t - TAU >= params.lo {
        t -= TAU;
    }
    var sum = 0.0;
    loop {
        if t > params.hi {
            break;
        }
        sum += row_weight(normalised_row(p, t, distance)) * end_taper(t);
        t += TAU;
    }
    return sum;
}

fn helical_weight(p: vec3<f32>, theta: f32, turned: f32, t_own: f32) -> f32 {
    let own = row_weight(t_own) * end_taper(turned);
    if own == 0.0 {
        return 0.0;
    }
    let s = sin(theta);
    let c = cos(theta);
    let direct = turns_sum(p, turned, magnifying_distance(p, s, c));
    let source = vec2<f32>(-params.sid * s, -params.sid * c);
    let d = p.xy - source;
    let dd = dot(d, d);
    var complementary = 0.0;
    if dd > 0.0 {
        let s2 = source + (-2.0 * dot(source, d) / dd) * d;
        let theta_c = precise_atan2(-s2.x, -s2.y);
        let turned_c = params.direction * (theta_c - params.theta_first);
        complementary = turns_sum(p, turned_c, magnifying_distance(p, -s2.x / params.sid, -s2.y / params.sid));
    }
    let sum = direct + complementary;
    return select(0.0, own / sum, sum > 0.0);
}

@compute @workgroup_size(8, 8, 1)
fn helical_backproject(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let y = gid.y;
    let nz = params.slab.z1 - params.slab.z0;
    if x >= params.nx || y >= params.ny || gid.z >= nz {
        return;
    }
    let z = params.slab.z0 + gid.z;
    let pos = vec4<f32>(f32(x), f32(y), f32(z), 1.0);
    let p = params.origin.xyz + vec3<f32>(f32(x), f32(y), f32(z)) * params.spacing.xyz;
    let last_col = f32(params.cols - 1u);
    let last_row = f32(params.rows - 1u);
    let half = last_row / 2.0;
    var acc = 0.0;
    for (var v = 0u; v < params.views; v++) {
        let m = (params.first_view + v) * 4u;
        let u = dot(table[m], pos);
        let r = dot(table[m + 1u], pos);
        let w = dot(table[m + 2u], pos);
        let extra = table[m + 3u];
        if !(w > 0.0) {
            continue;
        }
        var col: f32;
        var row: f32;
        var dist: f32;
        if params.arc != 0u {
            col = precise_atan2(u, w) * params.arc_scale + params.arc_centre;
            dist = 1.0 / (u * u + w * w);
            row = r * sqrt(dist) + params.arc_centre_row;
        } else {
            col = u / w;
            row = r / w;
            dist = 1.0 / (w * w);
        }
        if !(col >= 0.0 && col <= last_col && row >= 0.0 && row <= last_row) {
            continue;
        }
        let weight = helical_weight(p, extra.y, extra.z, (row - half) / half);
        if weight == 0.0 {
            continue;
        }
        acc += weight * extra.x * dist * sample(v, col, row);
    }
    let i = slab_index(params.slab, params.nx, params.ny, x, y, z);
    volume[i] += acc;
}
