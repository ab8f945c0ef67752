// Float helpers. NaN is tested on the bits: GLSL (the GL backend) does not promise IEEE
// comparisons with NaN, and drivers may fold `x != x` away.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// atan2(y, x) to a few ULP where x > 0 (points in front of a source). WGSL's built-in atan2
// may be off by thousands of ULP (Vulkan allows 4096; lavapipe's is that coarse), which moved
// arc-detector columns by hundredths of a pixel and the fan-beam FBP by 1e-3 of its peak.
// Two argument halvings, atan(t) = 2 atan(t / (1 + sqrt(1 + t²))), bring |t| ≤ tan(π/16),
// where the odd Taylor series to t¹¹ is exact to 1e-10.
fn precise_atan2(y: f32, x: f32) -> f32 {
    if !(x > 0.0) {
        return atan2(y, x);
    }
    let q = y / x;
    var t = abs(q);
    let invert = t > 1.0;
    if invert {
        t = 1.0 / t;
    }
    t = t / (1.0 + sqrt(1.0 + t * t));
    t = t / (1.0 + sqrt(1.0 + t * t));
    let t2 = t * t;
    var a = 4.0 * t * (1.0 + t2 * (-1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (-1.0 / 7.0 + t2 * (1.0 / 9.0 - t2 / 11.0)))));
    if invert {
        a = 1.5707963267948966 - a;
    }
    return select(a, -a, q < 0.0);
}
