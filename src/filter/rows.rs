//! Vectorisable row primitives shared by the CPU paths of separable and stencil filters.
//!
//! Everything works on contiguous `f32` rows so that the compiler emits SIMD code; on x86-64 the
//! hot loops are also compiled for AVX2 and for AVX-512 and chosen at run time. The register
//! kernels of the Gaussian ([`symmetric_block`], [`symmetric_along_padded`]) fuse each tap's
//! multiply-add where the CPU has FMA (their passes are bound by arithmetic, and a fused tap
//! rounds once instead of twice): every FMA build gives the same bits, the portable build for
//! CPUs without FMA agrees to a few ulps.

use crate::boundary::BoundaryMode;

/// `dst = w[0] * row(0) + Σ_k w[k] * (row(-k) + row(+k))`: a symmetric 1D correlation across
/// rows, where `row(d)` is the row at offset `d` (already boundary-mapped by the caller).
/// `row` returns `None` for a row of constant `cval`.
#[inline]
pub(crate) fn symmetric_rows<'a>(dst: &mut [f32], w: &[f32], cval: f32, row: impl Fn(isize) -> Option<&'a [f32]>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { symmetric_rows_avx2(dst, w, cval, row) };
            return;
        }
    }
    symmetric_rows_generic(dst, w, cval, row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn symmetric_rows_avx2<'a>(dst: &mut [f32], w: &[f32], cval: f32, row: impl Fn(isize) -> Option<&'a [f32]>) {
    symmetric_rows_generic(dst, w, cval, row)
}

#[inline(always)]
fn symmetric_rows_generic<'a>(dst: &mut [f32], w: &[f32], cval: f32, row: impl Fn(isize) -> Option<&'a [f32]>) {
    let n = dst.len();
    match row(0) {
        Some(c) => {
            for (d, &c) in dst.iter_mut().zip(&c[..n]) {
                *d = w[0] * c;
            }
        }
        None => dst.fill(w[0] * cval),
    }
    let r = w.len() - 1;
    let mut k = 1;
    while k <= r {
        // Four taps per sweep over `dst` where all eight rows exist: a quarter of the loads and
        // stores of `dst`, which otherwise dominate.
        if k + 3 <= r
            && let (Some(a1), Some(b1), Some(a2), Some(b2), Some(a3), Some(b3), Some(a4), Some(b4)) = (
                row(-(k as isize)),
                row(k as isize),
                row(-(k as isize + 1)),
                row(k as isize + 1),
                row(-(k as isize + 2)),
                row(k as isize + 2),
                row(-(k as isize + 3)),
                row(k as isize + 3),
            )
        {
            let (w1, w2, w3, w4) = (w[k], w[k + 1], w[k + 2], w[k + 3]);
            let (a1, b1, a2, b2) = (&a1[..n], &b1[..n], &a2[..n], &b2[..n]);
            let (a3, b3, a4, b4) = (&a3[..n], &b3[..n], &a4[..n], &b4[..n]);
            for i in 0..n {
                dst[i] += w1 * (a1[i] + b1[i]) + w2 * (a2[i] + b2[i]) + w3 * (a3[i] + b3[i]) + w4 * (a4[i] + b4[i]);
            }
            k += 4;
            continue;
        }
        let wk = w[k];
        match (row(-(k as isize)), row(k as isize)) {
            (Some(a), Some(b)) => {
                for ((d, &a), &b) in dst.iter_mut().zip(&a[..n]).zip(&b[..n]) {
                    *d += wk * (a + b);
                }
            }
            (Some(a), None) | (None, Some(a)) => {
                for (d, &a) in dst.iter_mut().zip(&a[..n]) {
                    *d += wk * (a + cval);
                }
            }
            (None, None) => {
                let add = wk * (2.0 * cval);
                for d in dst.iter_mut() {
                    *d += add;
                }
            }
        }
        k += 1;
    }
}

/// Outputs [`symmetric_block`] computes together.
pub(crate) const BLOCK: usize = 4;

/// Whether a centred kernel is even (`w[-k] = w[k]`: smoothing, second derivatives) or odd
/// (`w[-k] = −w[k]`, no centre tap: first derivatives). The register kernels sum the taps in
/// pairs as scipy's `correlate1d` does for both: `w[k] · (x[−k] + x[k])`, or `w[k] · (x[k] −
/// x[−k])` with nothing for the centre (so a NaN there does not reach the output, as in scipy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parity {
    Even,
    Odd,
}

/// The taps `k` before and after the centre, paired.
#[inline(always)]
fn pair<const ODD: bool>(before: f32, after: f32) -> f32 {
    if ODD { after - before } else { before + after }
}

/// The centre tap's term.
#[inline(always)]
fn centre<const ODD: bool>(w0: f32, c: f32) -> f32 {
    if ODD { 0.0 } else { w0 * c }
}

/// [`BLOCK`] symmetric correlations across equally spaced rows: with row `m` at
/// `src[m * stride..]` and output `j` at `dst[j * dst_stride..][..n]`, for `j < BLOCK`,
/// `out_j = w[0] * row(j + r) + Σ_k w[k] * (row(j + r - k) + row(j + r + k))` — output `j` is
/// centred on row `j + r`, and the `2r + BLOCK` rows are already boundary-mapped by the caller.
///
/// Sixteen lanes of each output are summed in registers over every tap and stored once, and the
/// rows are addressed by stride (no table of row pointers). With AVX-512 and radii up to 12 the
/// `2r + BLOCK` rows of a 16-lane column are each loaded once into a register and shared by the
/// outputs (`symmetric_strided_rows`): the Gaussian σ 2 on 512×512×256 took 72 ms instead of
/// 96 on the 2-core Xeon VM, its z pass 34 ms instead of 43; otherwise about one load per tap
/// and output lane. ([`symmetric_rows`], four taps per sweep through the output with rows from a closure,
/// cost 1.6–1.8× as long for the Gaussian's z and y passes on the 2-core Zen 4 VM; it stays for
/// radii whose `2r + BLOCK` staged rows would be large.)
pub(crate) fn symmetric_block(
    dst: &mut [f32],
    dst_stride: usize,
    src: &[f32],
    stride: usize,
    w: &[f32],
    n: usize,
    parity: Parity,
) {
    let r = w.len() - 1;
    assert!(
        n == 0
            || (dst.len() >= (BLOCK - 1) * dst_stride + n
                && dst_stride >= n
                && src.len() >= (2 * r + BLOCK - 1) * stride + n),
        "symmetric_block: {BLOCK} outputs of {n} values and 2r + {BLOCK} rows"
    );
    // SAFETY: asserted above; `dst` and `src` are distinct borrows.
    unsafe {
        match parity {
            Parity::Even => symmetric_strided::<BLOCK, false>(dst.as_mut_ptr(), dst_stride, src.as_ptr(), stride, w, n),
            Parity::Odd => symmetric_strided::<BLOCK, true>(dst.as_mut_ptr(), dst_stride, src.as_ptr(), stride, w, n),
        }
    }
}

/// One symmetric correlation along a row of `n` outputs: `dst[i] = w[0] * src[i + r] +
/// Σ_k w[k] * (src[i + r - k] + src[i + r + k])` for a `src` holding the row extended by `r`
/// on either side — [`symmetric_block`]'s kernel on views of one row shifted by one value.
pub(crate) fn symmetric_along_padded(dst: &mut [f32], w: &[f32], src: &[f32], parity: Parity) {
    match parity {
        Parity::Even => along_padded::<false>(dst, w, src),
        Parity::Odd => along_padded::<true>(dst, w, src),
    }
}

fn along_padded<const ODD: bool>(dst: &mut [f32], w: &[f32], src: &[f32]) {
    let (n, r) = (dst.len(), w.len() - 1);
    assert!(
        src.len() >= n + 2 * r,
        "symmetric_along_padded: a source of n + 2r values"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { along_padded_avx512::<ODD>(dst, w, src) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { along_padded_avx2::<ODD>(dst, w, src) };
            return;
        }
    }
    along_padded_generic::<false, 32, ODD>(dst, w, src)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn along_padded_avx2<const ODD: bool>(dst: &mut [f32], w: &[f32], src: &[f32]) {
    along_padded_generic::<true, 32, ODD>(dst, w, src)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn along_padded_avx512<const ODD: bool>(dst: &mut [f32], w: &[f32], src: &[f32]) {
    along_padded_generic::<true, 128, ODD>(dst, w, src)
}

/// `acc + w · x`, fused where the instruction set has FMA (one rounding, one instruction
/// instead of two: the Gaussian's passes are bound by their arithmetic), separately otherwise
/// (a software `fma` would be far slower).
#[inline(always)]
fn madd<const FUSED: bool>(w: f32, x: f32, acc: f32) -> f32 {
    if FUSED { w.mul_add(x, acc) } else { acc + w * x }
}

/// One output row has one chain of additions per group of lanes: `SPAN` outputs at a time
/// (four AVX2 registers, eight AVX-512 ones) keep the adder busy instead of waiting on its
/// latency; what is left of the row goes 16, then 1 at a time. Every output sums its taps in
/// the same order whatever the span, so the builds agree bit for bit.
#[inline(always)]
fn along_padded_generic<const FUSED: bool, const SPAN: usize, const ODD: bool>(
    dst: &mut [f32],
    w: &[f32],
    src: &[f32],
) {
    let n = dst.len();
    let mut i = along_padded_spans::<FUSED, SPAN, ODD>(dst, w, src, 0);
    i = along_padded_spans::<FUSED, 16, ODD>(dst, w, src, i);
    let r = w.len() - 1;
    for i in i..n {
        let mut acc = centre::<ODD>(w[0], src[i + r]);
        for (k, &wk) in w.iter().enumerate().skip(1) {
            acc = madd::<FUSED>(wk, pair::<ODD>(src[i + r - k], src[i + r + k]), acc);
        }
        dst[i] = acc;
    }
}

/// The outputs from `i` on in whole spans of `SPAN`; returns where they stop.
#[inline(always)]
fn along_padded_spans<const FUSED: bool, const SPAN: usize, const ODD: bool>(
    dst: &mut [f32],
    w: &[f32],
    src: &[f32],
    mut i: usize,
) -> usize {
    let (n, r) = (dst.len(), w.len() - 1);
    while i + SPAN <= n {
        let window = &src[i..i + SPAN + 2 * r];
        let lanes = |at: usize| -> [f32; SPAN] { window[at..at + SPAN].try_into().expect("SPAN values") };
        let mut acc = [0.0f32; SPAN];
        let c = lanes(r);
        for l in 0..SPAN {
            acc[l] = centre::<ODD>(w[0], c[l]);
        }
        for (k, &wk) in w.iter().enumerate().skip(1) {
            let (a, b) = (lanes(r - k), lanes(r + k));
            for l in 0..SPAN {
                acc[l] = madd::<FUSED>(wk, pair::<ODD>(a[l], b[l]), acc[l]);
            }
        }
        dst[i..i + SPAN].copy_from_slice(&acc);
        i += SPAN;
    }
    i
}

/// # Safety
/// `src` valid for reads of `(2r + B - 1) * stride + n` values, `dst` for writes of
/// `(B - 1) * dst_stride + n` with `dst_stride >= n`, the two disjoint.
unsafe fn symmetric_strided<const B: usize, const ODD: bool>(
    dst: *mut f32,
    dst_stride: usize,
    src: *const f32,
    stride: usize,
    w: &[f32],
    n: usize,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for; the caller
            // upholds the rest.
            unsafe { symmetric_strided_avx512::<B, ODD>(dst, dst_stride, src, stride, w, n) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for; the caller
            // upholds the rest.
            unsafe { symmetric_strided_avx2::<B, ODD>(dst, dst_stride, src, stride, w, n) };
            return;
        }
    }
    // SAFETY: as above.
    unsafe { symmetric_strided_generic::<B, false, ODD>(dst, dst_stride, src, stride, w, n) }
}

/// [`symmetric_strided_generic`] with fused taps, compiled for one instruction set (each
/// chosen at run time by [`symmetric_strided`]).
macro_rules! symmetric_strided_build {
    ($name:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name<const B: usize, const ODD: bool>(
            dst: *mut f32,
            dst_stride: usize,
            src: *const f32,
            stride: usize,
            w: &[f32],
            n: usize,
        ) {
            // SAFETY: forwarded.
            unsafe { symmetric_strided_generic::<B, true, ODD>(dst, dst_stride, src, stride, w, n) }
        }
    };
}

symmetric_strided_build!(symmetric_strided_avx2, "avx2,fma");

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn symmetric_strided_avx512<const B: usize, const ODD: bool>(
    dst: *mut f32,
    dst_stride: usize,
    src: *const f32,
    stride: usize,
    w: &[f32],
    n: usize,
) {
    // SAFETY (all arms): forwarded.
    unsafe {
        match w.len() - 1 {
            1 => symmetric_strided_rows::<B, 1, ODD>(dst, dst_stride, src, stride, w, n),
            2 => symmetric_strided_rows::<B, 2, ODD>(dst, dst_stride, src, stride, w, n),
            3 => symmetric_strided_rows::<B, 3, ODD>(dst, dst_stride, src, stride, w, n),
            4 => symmetric_strided_rows::<B, 4, ODD>(dst, dst_stride, src, stride, w, n),
            5 => symmetric_strided_rows::<B, 5, ODD>(dst, dst_stride, src, stride, w, n),
            6 => symmetric_strided_rows::<B, 6, ODD>(dst, dst_stride, src, stride, w, n),
            7 => symmetric_strided_rows::<B, 7, ODD>(dst, dst_stride, src, stride, w, n),
            8 => symmetric_strided_rows::<B, 8, ODD>(dst, dst_stride, src, stride, w, n),
            9 => symmetric_strided_rows::<B, 9, ODD>(dst, dst_stride, src, stride, w, n),
            10 => symmetric_strided_rows::<B, 10, ODD>(dst, dst_stride, src, stride, w, n),
            11 => symmetric_strided_rows::<B, 11, ODD>(dst, dst_stride, src, stride, w, n),
            12 => symmetric_strided_rows::<B, 12, ODD>(dst, dst_stride, src, stride, w, n),
            _ => symmetric_strided_generic::<B, true, ODD>(dst, dst_stride, src, stride, w, n),
        }
    }
}

/// [`symmetric_strided_generic`] for a radius known at compile time: each of the `2R + B`
/// rows of a 16-lane column is loaded once and held in a register for every output that uses
/// it (the generic kernel loads each row once per output, about `2R + 1` loads per output
/// instead of `(2R + B) / B`). Same operations in the same order: the same bits. Up to radius
/// 8 the rows fit the 32 registers; radii 9–12 spill a few (σ 3: 144 → 135–139 ms for the
/// whole filter, against 96 → 72 ms at σ 2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn symmetric_strided_rows<const B: usize, const R: usize, const ODD: bool>(
    dst: *mut f32,
    dst_stride: usize,
    src: *const f32,
    stride: usize,
    w: &[f32],
    n: usize,
) {
    use std::arch::x86_64::*;
    const MAX_ROWS: usize = 2 * 12 + 8;
    let rows = 2 * R + B;
    assert!(rows <= MAX_ROWS && w.len() == R + 1);
    let mut wv = [_mm512_setzero_ps(); 13];
    for (k, &wk) in w.iter().enumerate() {
        wv[k] = _mm512_set1_ps(wk);
    }
    let mut i = 0;
    while i + 16 <= n {
        let mut row = [_mm512_setzero_ps(); MAX_ROWS];
        for (m, row) in row.iter_mut().enumerate().take(rows) {
            // SAFETY: row m < 2R + B at lanes i..i + 16 < n, as the caller guarantees.
            *row = unsafe { _mm512_loadu_ps(src.add(m * stride + i)) };
        }
        for j in 0..B {
            let mut acc = if ODD {
                _mm512_setzero_ps()
            } else {
                _mm512_mul_ps(wv[0], row[j + R])
            };
            for k in 1..=R {
                let paired = if ODD {
                    _mm512_sub_ps(row[j + R + k], row[j + R - k])
                } else {
                    _mm512_add_ps(row[j + R - k], row[j + R + k])
                };
                acc = _mm512_fmadd_ps(wv[k], paired, acc);
            }
            // SAFETY: output j < B at lanes i..i + 16 < n.
            unsafe { _mm512_storeu_ps(dst.add(j * dst_stride + i), acc) };
        }
        i += 16;
    }
    if i < n {
        // The last lanes: the generic kernel on what is left of each row.
        // SAFETY: the same rows and outputs, shifted by i.
        unsafe { symmetric_strided_generic::<B, true, ODD>(dst.add(i), dst_stride, src.add(i), stride, w, n - i) };
    }
}

#[inline(always)]
unsafe fn symmetric_strided_generic<const B: usize, const FUSED: bool, const ODD: bool>(
    dst: *mut f32,
    dst_stride: usize,
    src: *const f32,
    stride: usize,
    w: &[f32],
    n: usize,
) {
    const LANES: usize = 16;
    let r = w.len() - 1;
    // SAFETY (every access below): rows m < 2r + B at indices i < n, outputs j < B at i < n —
    // inside the ranges the caller guarantees.
    let load = |m: usize, i: usize| unsafe { (src.add(m * stride + i) as *const [f32; LANES]).read_unaligned() };
    let mut i = 0;
    while i + LANES <= n {
        let mut acc = [[0.0f32; LANES]; B];
        for (j, acc) in acc.iter_mut().enumerate() {
            let c = load(j + r, i);
            for l in 0..LANES {
                acc[l] = centre::<ODD>(w[0], c[l]);
            }
        }
        for (k, &wk) in w.iter().enumerate().skip(1) {
            for (j, acc) in acc.iter_mut().enumerate() {
                let (a, b) = (load(j + r - k, i), load(j + r + k, i));
                for l in 0..LANES {
                    acc[l] = madd::<FUSED>(wk, pair::<ODD>(a[l], b[l]), acc[l]);
                }
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            unsafe { (dst.add(j * dst_stride + i) as *mut [f32; LANES]).write_unaligned(*acc) };
        }
        i += LANES;
    }
    for i in i..n {
        for j in 0..B {
            let at = |m: usize| unsafe { *src.add(m * stride + i) };
            let mut acc = centre::<ODD>(w[0], at(j + r));
            for (k, &wk) in w.iter().enumerate().skip(1) {
                acc = madd::<FUSED>(wk, pair::<ODD>(at(j + r - k), at(j + r + k)), acc);
            }
            unsafe { *dst.add(j * dst_stride + i) = acc };
        }
    }
}

/// Symmetric 1D correlation along a row: `dst[i] = Σ_k w[|k|] * src_ext[i + k]`, with `src`
/// extended by `mode`. `pad` is scratch space reused between calls.
#[inline]
pub(crate) fn symmetric_along_row(
    dst: &mut [f32],
    src: &[f32],
    w: &[f32],
    mode: BoundaryMode,
    pad: &mut Vec<f32>,
    parity: Parity,
) {
    let n = src.len();
    let r = w.len() - 1;
    pad.clear();
    pad.resize(n + 2 * r, 0.0);
    pad[r..r + n].copy_from_slice(src);
    fill_halo(pad, r, mode);
    symmetric_along_padded(dst, w, pad, parity)
}

/// Extends a row held in `padded[r..len − r]` by `r` values each side as `mode` says.
#[inline]
pub(crate) fn fill_halo(padded: &mut [f32], r: usize, mode: BoundaryMode) {
    let n = padded.len() - 2 * r;
    let cval = mode.cval();
    for i in (0..r).chain(r + n..n + 2 * r) {
        let idx = i as isize - r as isize;
        padded[i] = match mode.map_index(idx, 0, n as isize) {
            Some(m) => padded[r + m as usize],
            None => cval,
        };
    }
}

/// `dst = Σ_j w[j] * row(j - left)`: a general (asymmetric) 1D correlation across rows, where
/// `row(d)` is the already boundary-mapped row at offset `d`, or `None` for a row of `cval`.
#[inline]
pub(crate) fn general_rows<'a>(
    dst: &mut [f32],
    w: &[f32],
    left: usize,
    cval: f32,
    row: impl Fn(isize) -> Option<&'a [f32]>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { general_rows_avx2(dst, w, left, cval, row) };
            return;
        }
    }
    general_rows_generic(dst, w, left, cval, row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn general_rows_avx2<'a>(
    dst: &mut [f32],
    w: &[f32],
    left: usize,
    cval: f32,
    row: impl Fn(isize) -> Option<&'a [f32]>,
) {
    general_rows_generic(dst, w, left, cval, row)
}

#[inline(always)]
fn general_rows_generic<'a>(
    dst: &mut [f32],
    w: &[f32],
    left: usize,
    cval: f32,
    row: impl Fn(isize) -> Option<&'a [f32]>,
) {
    let n = dst.len();
    let offset = |j: usize| j as isize - left as isize;
    // Constant rows fold into one value added at the end.
    let mut constant = 0.0f32;
    dst.fill(0.0);
    let mut j = 0;
    while j < w.len() {
        // Three taps per sweep where all three rows exist: fewer loads and stores of `dst`.
        if j + 2 < w.len()
            && let (Some(a), Some(b), Some(c)) = (row(offset(j)), row(offset(j + 1)), row(offset(j + 2)))
        {
            let (wa, wb, wc) = (w[j], w[j + 1], w[j + 2]);
            let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
            for i in 0..n {
                dst[i] += wa * a[i] + wb * b[i] + wc * c[i];
            }
            j += 3;
            continue;
        }
        match row(offset(j)) {
            Some(a) => {
                let wj = w[j];
                for (d, &a) in dst.iter_mut().zip(&a[..n]) {
                    *d += wj * a;
                }
            }
            None => constant += w[j] * cval,
        }
        j += 1;
    }
    if constant != 0.0 {
        dst.iter_mut().for_each(|d| *d += constant);
    }
}

/// Writes `src` extended by `before` voxels on the left and `after` on the right with `mode`
/// into `pad` (resized).
pub(crate) fn extend_row_into(src: &[f32], before: usize, after: usize, mode: BoundaryMode, pad: &mut Vec<f32>) {
    let n = src.len();
    pad.clear();
    pad.resize(n + before + after, 0.0);
    pad[before..before + n].copy_from_slice(src);
    for i in (0..before).chain(before + n..n + before + after) {
        pad[i] = match mode.map_index(i as isize - before as isize, 0, n as isize) {
            Some(m) => src[m as usize],
            None => mode.cval(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::rng::XorShift64::new(seed);
        (0..len).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
    }

    /// Both register kernels against an f64 sum of the formula, for lengths with and without a
    /// scalar tail, radii 0–9, output/row strides longer than the rows, and both parities.
    #[test]
    fn register_kernels_equal_the_formula() {
        for parity in [Parity::Even, Parity::Odd] {
            let odd = parity == Parity::Odd;
            for r in 0..10 {
                let w: Vec<f32> = values(r + 1, 7 + r as u64);
                // The formula's taps: the centre (none for an odd kernel) and the pairs.
                let sum = |at: &dyn Fn(usize) -> f64, c: usize| {
                    let mut want = if odd { 0.0 } else { w[0] as f64 * at(c) };
                    for (k, &wk) in w.iter().enumerate().skip(1) {
                        let (before, after) = (at(c - k), at(c + k));
                        want += wk as f64 * if odd { after - before } else { before + after };
                    }
                    want
                };
                for n in [0, 1, 7, 16, 31, 33, 64, 77] {
                    let stride = n + 3;
                    let src = values((2 * r + BLOCK) * stride, 11 + n as u64);
                    let mut dst = vec![f32::NAN; BLOCK * (n + 5)];
                    symmetric_block(&mut dst, n + 5, &src, stride, &w, n, parity);
                    for j in 0..BLOCK {
                        for i in 0..n {
                            let want = sum(&|m| src[m * stride + i] as f64, j + r);
                            let got = dst[j * (n + 5) + i] as f64;
                            assert!(
                                (got - want).abs() <= 1e-5,
                                "{parity:?} block r={r} n={n} j={j} i={i}: {got} vs {want}"
                            );
                        }
                    }
                    let padded = values(n + 2 * r, 13 + n as u64);
                    let mut row_out = vec![f32::NAN; n];
                    symmetric_along_padded(&mut row_out, &w, &padded, parity);
                    for (i, got) in row_out.iter().enumerate() {
                        let want = sum(&|m| padded[m] as f64, i + r);
                        assert!(
                            (*got as f64 - want).abs() <= 1e-5,
                            "{parity:?} row r={r} n={n} i={i}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// The AVX-512 and AVX2 builds of the register kernels (whichever this CPU has) give the
    /// bits of the portable kernel with fused multiply-adds (`f32::mul_add`, in software here):
    /// lane for lane the same operations in the same order, for even and odd kernels. The
    /// portable build without FMA (for CPUs that lack it) rounds twice per tap and agrees to a
    /// few ulps.
    #[test]
    fn every_instruction_set_computes_the_same_bits() {
        same_bits::<false>();
        same_bits::<true>();
    }

    fn same_bits<const ODD: bool>() {
        type Strided = unsafe fn(*mut f32, usize, *const f32, usize, &[f32], usize);
        type Along = unsafe fn(&mut [f32], &[f32], &[f32]);
        type Outputs = (Vec<f32>, Vec<f32>);
        // Every radius the AVX-512 build holds in registers (1–12), and beyond.
        for r in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] {
            let w: Vec<f32> = values(r + 1, 3 + r as u64);
            for n in [5, 16, 48, 77, 300] {
                let stride = n + 2;
                let src = values((2 * r + BLOCK) * stride, 17 + n as u64);
                let padded = values(n + 2 * r, 19 + n as u64);
                let run = |strided: Strided, along: Along| {
                    let mut block = vec![0.0f32; BLOCK * n];
                    // SAFETY: the sizes symmetric_block asserts; only instruction sets this CPU
                    // has are called.
                    unsafe { strided(block.as_mut_ptr(), n, src.as_ptr(), stride, &w, n) };
                    let mut row = vec![0.0f32; n];
                    unsafe { along(&mut row, &w, &padded) };
                    (block, row)
                };
                let fused = run(symmetric_strided_generic::<BLOCK, true, ODD>, |d, w, s| {
                    along_padded_generic::<true, 32, ODD>(d, w, s)
                });
                let mut builds: Vec<(&str, Outputs)> = Vec::new();
                #[cfg(target_arch = "x86_64")]
                {
                    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                        builds.push((
                            "avx2",
                            run(symmetric_strided_avx2::<BLOCK, ODD>, along_padded_avx2::<ODD>),
                        ));
                    }
                    if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
                        builds.push((
                            "avx512",
                            run(symmetric_strided_avx512::<BLOCK, ODD>, along_padded_avx512::<ODD>),
                        ));
                    }
                }
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                for (name, (block, row)) in &builds {
                    assert_eq!(bits(block), bits(&fused.0), "odd {ODD} r={r} n={n}: {name} strided");
                    assert_eq!(bits(row), bits(&fused.1), "odd {ODD} r={r} n={n}: {name} row");
                }
                let (block, row) = run(symmetric_strided_generic::<BLOCK, false, ODD>, |d, w, s| {
                    along_padded_generic::<false, 32, ODD>(d, w, s)
                });
                for (a, b) in block.iter().chain(&row).zip(fused.0.iter().chain(&fused.1)) {
                    assert!((a - b).abs() <= 1e-6, "odd {ODD} r={r} n={n}: unfused {a} vs {b}");
                }
            }
        }
    }
}
