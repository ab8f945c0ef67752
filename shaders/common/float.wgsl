// Float helpers. NaN is tested on the bits: GLSL (the GL backend) does not promise IEEE
// comparisons with NaN, and drivers may fold `x != x` away.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
