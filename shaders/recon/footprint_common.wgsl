// The separable-footprint pair on the GPU (prepended: voxel_driven_common.wgsl for the bindings,
// view table, detector_position and point_scale), shared by the forward splat and its transpose
// (twin of SeparableFootprint::footprint and ::pixels in src/recon/footprint.rs): a voxel's
// shadow is a trapezoid across the columns (its four in-plane corners projected, sorted) times
// a rectangle along the rows (its bottom and top faces), integrated over each pixel and
// normalised to 1, times the voxel-driven footprint scale. Both kernels walk the same pixels
// with the same weights, so the pair is adjoint to rounding.

struct Footprint {
    hit: bool,
    // The trapezoid across the columns, sorted.
    across: vec4<f32>,
    // The rectangle along the rows as a trapezoid (r0, r0, r1, r1).
    along: vec4<f32>,
    scale: f32,
}

// Inclusive pixel range (first, last) of a trapezoid on n pixels; first > last if it misses.
fn footprint_span(t: vec4<f32>, n: u32) -> vec2<i32> {
    let first = max(floor(t.x + 0.5), 0.0);
    let last = min(floor(t.w + 0.5), f32(n) - 1.0);
    if first > last {
        return vec2<i32>(1, 0);
    }
    return vec2<i32>(i32(first), i32(last));
}

// The area of the unit-height trapezoid t left of s, measured from t.x.
fn trapezoid_cdf(s_abs: f32, t: vec4<f32>) -> f32 {
    let s = s_abs - t.x;
    let a = t.y - t.x;
    let b = t.z - t.x;
    let c = t.w - t.x;
    if s <= 0.0 {
        return 0.0;
    }
    if s < a {
        return s * s / (2.0 * a);
    }
    if s < b {
        return a / 2.0 + (s - a);
    }
    if s < c {
        let r = c - s;
        return (b + c - a) / 2.0 - r * r / (2.0 * (c - b));
    }
    return (b + c - a) / 2.0;
}

// Pixel p's share of the trapezoid t (pixels cover [p - 1/2, p + 1/2]); widths under 1e-6
// pixels are points.
fn footprint_weight(p: i32, t: vec4<f32>) -> f32 {
    let c = f32(p);
    if t.w - t.x < 1e-6 {
        return select(0.0, 1.0, floor((t.x + t.w) / 2.0 + 0.5) == c);
    }
    let total = (t.w + t.z - t.y - t.x) / 2.0;
    return (trapezoid_cdf(c + 0.5, t) - trapezoid_cdf(c - 0.5, t)) / total;
}

fn sort4(v: vec4<f32>) -> vec4<f32> {
    var t = array<f32, 4>(v.x, v.y, v.z, v.w);
    let pairs = array<vec2<u32>, 5>(vec2(0u, 1u), vec2(2u, 3u), vec2(0u, 2u), vec2(1u, 3u), vec2(1u, 2u));
    for (var k = 0u; k < 5u; k++) {
        let i = pairs[k].x;
        let j = pairs[k].y;
        if t[j] < t[i] {
            let s = t[i];
            t[i] = t[j];
            t[j] = s;
        }
    }
    return vec4<f32>(t[0], t[1], t[2], t[3]);
}

fn finite4(v: vec4<f32>) -> bool {
    return all(abs(v) <= vec4<f32>(3.0e38));
}

fn footprint(view: u32, x: u32, y: u32, z: u32) -> Footprint {
    var f: Footprint;
    f.hit = false;
    let table = views[view];
    let centre = vec4<f32>(f32(x), f32(y), f32(z), 1.0);
    let uvw = vec3<f32>(dot(table.mu, centre), dot(table.mv, centre), dot(table.mw, centre));
    if !(uvw.z > 0.0) {
        return f;
    }
    let at = detector_position(uvw.x, uvw.y, uvw.z);
    // (U, V, W) are affine in the voxel indices: half a voxel along x, y, z moves them by half
    // the matrix's columns.
    let hx = 0.5 * vec3<f32>(table.mu.x, table.mv.x, table.mw.x);
    let hy = 0.5 * vec3<f32>(table.mu.y, table.mv.y, table.mw.y);
    let hz = 0.5 * vec3<f32>(table.mu.z, table.mv.z, table.mw.z);
    var corners: vec4<f32>;
    for (var k = 0u; k < 4u; k++) {
        let sx = select(-1.0, 1.0, (k & 1u) != 0u);
        let sy = select(-1.0, 1.0, (k & 2u) != 0u);
        let p = uvw + sx * hx + sy * hy;
        if !(p.z > 0.0) {
            return f;
        }
        corners[k] = detector_position(p.x, p.y, p.z).x;
    }
    if params.two_d == 0u {
        let bottom = uvw - hz;
        let top = uvw + hz;
        if !(bottom.z > 0.0 && top.z > 0.0) {
            return f;
        }
        let r0 = detector_position(bottom.x, bottom.y, bottom.z).y;
        let r1 = detector_position(top.x, top.y, top.z).y;
        f.along = vec4<f32>(min(r0, r1), min(r0, r1), max(r0, r1), max(r0, r1));
    }
    f.across = sort4(corners);
    f.scale = point_scale(table.footprint, uvw.x, uvw.z, at.x, at.y);
    f.hit = finite4(f.across) && finite4(f.along) && abs(f.scale) <= 3.0e38;
    return f;
}

// The rows a footprint may cover (row 0 alone on a one-row detector).
fn footprint_rows(f: Footprint) -> vec2<i32> {
    if params.two_d != 0u {
        return vec2<i32>(0, 0);
    }
    return footprint_span(f.along, params.rows);
}

fn footprint_row_weight(r: i32, f: Footprint) -> f32 {
    if params.two_d != 0u {
        return 1.0;
    }
    return footprint_weight(r, f.along);
}
