// Splatting into projections (the forward kernels of the voxel-driven family): WGSL has no
// float atomics in its core, so each add is a compare-exchange loop on the value's bits.

@group(0) @binding(3) var<storage, read_write> projections: array<atomic<u32>>;

fn add_to(i: u32, value: f32) {
    var old = atomicLoad(&projections[i]);
    loop {
        let swapped = atomicCompareExchangeWeak(&projections[i], old, bitcast<u32>(bitcast<f32>(old) + value));
        if swapped.exchanged {
            break;
        }
        old = swapped.old_value;
    }
}
