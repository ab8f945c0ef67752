// The line along `axis` (0 = z, 1 = y, 2 = x) through a voxel of a slab-tiled kernel, for 1D
// passes (correlate1d.wgsl, correlate1d_multi.wgsl): the voxel's position along it, the
// domain lo..hi (along z the tile's, so slabs extend like the whole volume), the element stride
// between neighbours and the element of the line's first in-domain voxel in the input window.
// Prepended after common/tile.wgsl (needs the `tile` binding).

struct Line {
    c: i32,
    lo: i32,
    hi: i32,
    stride: i32,
    start: i32,
}

fn line_through(voxel: vec3<i32>, axis: u32) -> Line {
    var l: Line;
    switch axis {
        case 0u: {
            l.c = voxel.z;
            l.lo = tile.z_lo;
            l.hi = tile.z_hi;
            l.stride = i32(tile.ny * tile.nx);
        }
        case 1u: {
            l.c = voxel.y;
            l.lo = 0;
            l.hi = i32(tile.ny);
            l.stride = i32(tile.nx);
        }
        default: {
            l.c = voxel.x;
            l.lo = 0;
            l.hi = i32(tile.nx);
            l.stride = 1;
        }
    }
    let centre = i32(tile_in_index(tile, voxel.z, voxel.y, voxel.x));
    l.start = centre - (l.c - l.lo) * l.stride;
    return l;
}
