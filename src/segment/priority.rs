//! The two priority queues of the watershed flood.
//!
//! [`ArrayHeap`] is scikit-image's binary min-heap, operation for operation (sift up on push;
//! on pop the last element goes to the root and sifts down; strict comparisons, the left child
//! on ties), because the order in which it releases *equal* items is part of scikit-image's
//! result. Items live in 64-byte lines, stored from slot 1, so that two siblings share a line
//! and a node's four grandchildren fill one; the lines sit on huge pages (a heap of millions of
//! items is read at random), and on large heaps consecutive pops overlap (see [`ArrayHeap`]).
//!
//! [`FifoRadixQueue`] is a monotone radix heap over `u64` keys that releases equal keys in the
//! order they were pushed. Every bucket stays in push order (pushes append; a refill moves a
//! bucket, in order, into lower levels that are empty), so with ages given by push order it
//! releases items by (key, age) exactly as the heap does when no two items tie — at O(1)
//! amortised cost instead of O(log n) cache misses. A refilled bucket of at most a thousand
//! items is sorted (by key, then push order) into a *run* instead of being spread over the
//! levels below, from which most items would move again once per byte.

/// An item of [`ArrayHeap`]: `before` is the heap's strict order.
pub(crate) trait HeapItem: Copy {
    fn before(&self, other: &Self) -> bool;
}

const LINE: usize = 4;

/// Heaps from this many items on pipeline their pops (measured on the 2-core Xeon VM with
/// 16-byte items: 1.3–1.4× faster at 2×10⁷ items, ~10 % slower at 5×10⁶ and 10⁶, where more of
/// the tree stays in cache and one sift at a time with prefetching does as well).
const PIPELINE_FROM: usize = 1 << 23;

/// Asks the CPU to bring `value`'s cache line in (a hint).
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    crate::memory::prefetch(value as *const T);
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line<T>([T; LINE]);

/// One pop's sift-down in progress: `last` (the item taken from the end) travels down from slot
/// `at` in a heap of `n` items.
#[derive(Clone, Copy)]
struct Sift<T> {
    at: usize,
    last: T,
    n: usize,
}

/// The tree level of a slot (the root, slot 1, is level 0).
#[inline(always)]
fn level(slot: usize) -> u32 {
    usize::BITS - 1 - slot.leading_zeros()
}

/// Whether `slot` lies in the subtree of `root` (itself included).
#[inline(always)]
fn in_subtree(slot: usize, root: usize) -> bool {
    let (a, b) = (level(slot), level(root));
    a >= b && slot >> (a - b) == root
}

/// scikit-image's array heap (see the module docs), with its pops pipelined.
///
/// A pop's cost is its sift-down: one dependent cache miss per level in a heap of millions of
/// items. Each sift only reads and writes the subtree below its current slot, so a pop can
/// start while earlier sifts are still on their way down, as long as every earlier sift is at
/// least two levels deeper (the new one then never reads a slot an earlier one will still
/// write). Up to one sift per two levels is in flight, all stepped together a level at a time,
/// so their cache misses overlap instead of following one another. An operation that reads a
/// slot an unfinished sift may still write (the root, the last item, a push's ancestors) first
/// steps the sifts until none can: the results are exactly those of one operation after the
/// other. Smaller heaps (below [`PIPELINE_FROM`] items) pop one at a time.
pub(crate) struct ArrayHeap<T: HeapItem> {
    lines: Vec<Line<T>>,
    /// Items held; they occupy slots 1..=len.
    len: usize,
    filler: T,
    /// Sifts in flight, oldest (deepest) first.
    sifts: Vec<Sift<T>>,
    /// Pops pipeline while the heap holds at least this many items.
    pipeline_from: usize,
}

impl<T: HeapItem> ArrayHeap<T> {
    /// An empty heap; `filler` only initialises unused slots.
    pub(crate) fn with_capacity(capacity: usize, filler: T) -> Self {
        let mut lines = Vec::with_capacity(capacity / LINE + 1);
        crate::memory::advise_huge_capacity(&mut lines);
        ArrayHeap {
            lines,
            len: 0,
            filler,
            sifts: Vec::with_capacity(64),
            pipeline_from: PIPELINE_FROM,
        }
    }

    #[inline(always)]
    fn get(&self, slot: usize) -> T {
        self.lines[slot / LINE].0[slot % LINE]
    }

    #[inline(always)]
    fn set(&mut self, slot: usize, item: T) {
        self.lines[slot / LINE].0[slot % LINE] = item;
    }

    #[inline(always)]
    fn prefetch(&self, line: usize) {
        if let Some(line) = self.lines.get(line) {
            prefetch(line);
        }
    }

    /// Makes room for `slot`; the storage doubles on huge pages when full.
    #[inline(always)]
    fn reserve_slot(&mut self, slot: usize) {
        if slot / LINE >= self.lines.len() {
            if self.lines.len() == self.lines.capacity() {
                let mut more = Vec::with_capacity(2 * self.lines.capacity() + 1);
                crate::memory::advise_huge_capacity(&mut more);
                more.extend_from_slice(&self.lines);
                self.lines = more;
            }
            self.lines.push(Line([self.filler; LINE]));
        }
    }

    /// Steps every sift in flight down one level; finished ones leave.
    fn step_all(&mut self) {
        let mut kept = 0;
        for i in 0..self.sifts.len() {
            let mut sift = self.sifts[i];
            if !self.step(&mut sift) {
                self.sifts[kept] = sift;
                kept += 1;
            }
        }
        self.sifts.truncate(kept);
    }

    /// Steps the sifts until none is at or above `slot` (none can still write it).
    #[inline(always)]
    fn settle(&mut self, slot: usize) {
        while self.sifts.iter().any(|s| in_subtree(slot, s.at)) {
            self.step_all();
        }
    }

    /// One level of a sift-down; true when `last` has found its slot. The smaller child (the
    /// left one when the two are equal) moves up while it is strictly smaller than `last`.
    /// Which child is smaller is a coin toss: chosen without a branch, since the other sifts
    /// in flight, not speculation, keep the memory busy.
    #[inline(always)]
    fn step(&mut self, sift: &mut Sift<T>) -> bool {
        let (at, last, n) = (sift.at, sift.last, sift.n);
        let left = 2 * at;
        if left <= n {
            // `left` is even, so its right sibling is in the same line (read even when absent).
            let line = &self.lines[left / LINE].0;
            let (l, r) = (line[left % LINE], line[left % LINE + 1]);
            let right = (left < n) & r.before(&l);
            let child = std::hint::select_unpredictable(right, r, l);
            if child.before(&last) {
                let slot = left + right as usize;
                self.set(at, child);
                sift.at = slot;
                // The next step reads this slot's children (one line), the steps after it the
                // lines below: on their way while the other sifts step.
                self.prefetch(slot / 2);
                self.prefetch(slot);
                self.prefetch(2 * slot);
                self.prefetch(2 * slot + 1);
                return false;
            }
        }
        self.set(at, last);
        true
    }

    pub(crate) fn push(&mut self, item: T) {
        self.len += 1;
        let mut child = self.len;
        self.reserve_slot(child);
        self.settle(child);
        while child > 1 {
            let parent = child / 2;
            let above = self.get(parent);
            if item.before(&above) {
                self.set(child, above);
                child = parent;
            } else {
                break;
            }
        }
        self.set(child, item);
    }

    /// Pushes an item that is before no other (it stays where it lands, at the end): no sift
    /// in flight needs to finish first.
    pub(crate) fn push_greatest(&mut self, item: T) {
        self.len += 1;
        self.reserve_slot(self.len);
        self.set(self.len, item);
    }

    /// The item the next pop returns, unless a smaller one is pushed first.
    pub(crate) fn peek(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.settle(1);
        Some(self.get(1))
    }

    /// A pop with no sift in flight: the sift-down runs to its end, branching on the smaller
    /// child (speculation runs ahead into the likelier child's line) and prefetching two levels
    /// down. Same moves as [`Self::step`].
    fn pop_one_at_a_time(&mut self) -> T {
        let top = self.get(1);
        let last = self.get(self.len);
        self.len -= 1;
        let n = self.len;
        let mut at = 1;
        loop {
            let left = 2 * at;
            if left > n {
                break;
            }
            self.prefetch(2 * at);
            self.prefetch(2 * at + 1);
            let mut smallest = left;
            let mut best = self.get(left);
            if !best.before(&last) {
                best = last;
                smallest = at;
            }
            if left < n {
                let right = self.get(left + 1);
                if right.before(&best) {
                    best = right;
                    smallest = left + 1;
                }
            }
            if smallest == at {
                break;
            }
            self.set(at, best);
            at = smallest;
        }
        if n > 0 {
            self.set(at, last);
        }
        top
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        if self.len < self.pipeline_from {
            while !self.sifts.is_empty() {
                self.step_all();
            }
            return Some(self.pop_one_at_a_time());
        }
        // The new sift reads the root's children: the newest sift must be two levels down.
        while self.sifts.last().is_some_and(|s| level(s.at) < 2) {
            self.step_all();
        }
        self.settle(self.len);
        let top = self.get(1);
        let last = self.get(self.len);
        self.len -= 1;
        if self.len > 0 {
            self.sifts.push(Sift {
                at: 1,
                last,
                n: self.len,
            });
            // The root is written by the first step (the next pop or peek returns it).
            self.step_all();
        }
        Some(top)
    }
}

/// How a [`FifoRadixQueue`] stores its keys: the full `u64`, or a `u32` for keys below 2^32
/// (half the bytes of an item for a `u32` item: the queue's items are moved a few times each).
pub(crate) trait RadixKey: Copy + Ord {
    fn widen(self) -> u64;
    /// The key; it must fit.
    fn narrow(key: u64) -> Self;
}

impl RadixKey for u64 {
    #[inline(always)]
    fn widen(self) -> u64 {
        self
    }
    #[inline(always)]
    fn narrow(key: u64) -> Self {
        key
    }
}

impl RadixKey for u32 {
    #[inline(always)]
    fn widen(self) -> u64 {
        u64::from(self)
    }
    #[inline(always)]
    fn narrow(key: u64) -> Self {
        debug_assert!(key <= u64::from(u32::MAX), "a u32 queue's key");
        key as u32
    }
}

/// A monotone radix heap over `u64` keys with 256-way buckets, first in first out among equal
/// keys (see the module docs). Keys pushed must not be below the key last popped.
///
/// A key goes to the bucket of the highest byte in which it differs from `last` (its *level*)
/// and of its value in that byte; equal keys go to bucket `EQUAL`. Lower levels hold smaller
/// keys, and so do lower bytes within a level, so the next items are in the first occupied
/// bucket; a refill moves that bucket, in order, to lower levels. Each item moves at most once
/// per byte, a few times in practice — a bit-wise radix heap moves float keys that differ only
/// in low mantissa bits dozens of times. A small bucket is sorted into the run instead (one
/// move): on the watershed of a 512×512×256 noisy distance map, 70 M moves instead of 99 M for
/// 20.8 M items, and the flood 7–10 % faster.
pub(crate) struct FifoRadixQueue<T: Copy, K: RadixKey = u64> {
    last: u64,
    /// Bucket `EQUAL`, then level × 256 + byte.
    buckets: Vec<Vec<(K, T)>>,
    /// The next item of bucket `EQUAL` (keys equal to `last`).
    head: usize,
    /// Per level, the occupied bytes (256 bits); `levels` bit l: level l has any.
    occupied: [[u64; 4]; 8],
    levels: u8,
    /// Each bucket's first-pushed smallest item (what a refill from it releases first).
    smallest: Vec<(u64, Option<T>)>,
    /// A small refilled bucket, sorted by key (push order among equal keys), all above `last`:
    /// its items leave before any bucket's. It holds every key that shares the bits of
    /// `run_range` with `last` (the refilled bucket's range); pushes into that range are
    /// inserted in order, the rest go to the buckets. (`u64::MAX`: no run.)
    run: std::collections::VecDeque<(K, T)>,
    run_range: u64,
    /// Scratch for sorting a refilled bucket into the run.
    order: Vec<(K, u32)>,
}

const EQUAL: usize = 0;

/// Refilled buckets of at most this many items are sorted into the run instead of being spread
/// over the levels below (from which most items would move again, once per byte).
const RUN_FROM: usize = 1024;

/// Pushes into the range of a run of at least this many items send it back to the buckets.
const RUN_INSERT_MAX: usize = 64;

impl<T: Copy, K: RadixKey> FifoRadixQueue<T, K> {
    pub(crate) fn new() -> Self {
        FifoRadixQueue {
            last: 0,
            buckets: (0..1 + 8 * 256).map(|_| Vec::new()).collect(),
            head: 0,
            occupied: [[0; 4]; 8],
            levels: 0,
            smallest: vec![(u64::MAX, None); 1 + 8 * 256],
            run: std::collections::VecDeque::with_capacity(RUN_FROM),
            run_range: u64::MAX,
            order: Vec::new(),
        }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, key: u64, item: T) {
        debug_assert!(key >= self.last, "monotone queue");
        let differ = key ^ self.last;
        if differ == 0 {
            self.buckets[EQUAL].push((K::narrow(key), item));
            return;
        }
        if differ & self.run_range == 0 && !self.run.is_empty() {
            self.insert_into_run(key, item);
            return;
        }
        self.push_to_bucket(key, item);
    }

    /// Inserts after every item of the run with a key not above `key`. Into a long run (where
    /// an insertion would shift many items) the run goes back to the buckets instead, in order,
    /// and the new item after it.
    #[cold]
    fn insert_into_run(&mut self, key: u64, item: T) {
        if self.run.len() < RUN_INSERT_MAX {
            let at = self.run.partition_point(|e| e.0.widen() <= key);
            self.run.insert(at, (K::narrow(key), item));
            return;
        }
        let run = std::mem::take(&mut self.run);
        self.run_range = u64::MAX;
        for (key, item) in run.iter().copied() {
            self.push_to_bucket(key.widen(), item);
        }
        self.push_to_bucket(key, item);
        self.run = run;
        self.run.clear();
    }

    /// [`Self::push`] of a key above `last` to its bucket.
    #[inline(always)]
    fn push_to_bucket(&mut self, key: u64, item: T) {
        let differ = key ^ self.last;
        let level = (63 - differ.leading_zeros()) as usize / 8;
        let byte = (key >> (8 * level)) as usize & 255;
        let bucket = 1 + level * 256 + byte;
        self.buckets[bucket].push((K::narrow(key), item));
        self.occupied[level][byte / 64] |= 1 << (byte % 64);
        self.levels |= 1 << level;
        if key < self.smallest[bucket].0 {
            self.smallest[bucket] = (key, Some(item));
        }
    }

    /// The first occupied bucket outside `EQUAL`.
    #[inline(always)]
    fn first_bucket(&self) -> Option<usize> {
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize;
        let words = &self.occupied[level];
        let word = words.iter().position(|&w| w != 0).expect("an occupied level");
        Some(1 + level * 256 + word * 64 + words[word].trailing_zeros() as usize)
    }

    /// The item the next pop returns, unless a smaller one is pushed first.
    #[inline(always)]
    pub(crate) fn peek(&self) -> Option<T> {
        if let Some(next) = self.buckets[EQUAL].get(self.head) {
            return Some(next.1);
        }
        if let Some(next) = self.run.front() {
            return Some(next.1);
        }
        self.smallest[self.first_bucket()?].1
    }

    /// An item about `k` places after the next one to leave, unless smaller ones are pushed
    /// first: exactly that item among the items of the current key and the run, else one of the
    /// first buckets of the lowest level (whose items leave after those, and before any other
    /// bucket's; within a bucket not in order — near enough for a prefetch). `None` when fewer
    /// items wait in those places.
    #[inline(always)]
    pub(crate) fn ahead(&self, k: usize) -> Option<T> {
        let equal = &self.buckets[EQUAL];
        let waiting = equal.len() - self.head;
        if k < waiting {
            return Some(equal[self.head + k].1);
        }
        let k = k - waiting;
        if k < self.run.len() {
            return Some(self.run[k].1);
        }
        self.in_lowest_buckets(k - self.run.len())
    }

    /// Item `k` of the lowest level's buckets, taken in bucket order (at most a few buckets).
    #[inline(always)]
    fn in_lowest_buckets(&self, mut k: usize) -> Option<T> {
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize;
        let mut visited = 0;
        for (w, &word) in self.occupied[level].iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let bucket = &self.buckets[1 + level * 256 + w * 64 + bits.trailing_zeros() as usize];
                if k < bucket.len() {
                    return Some(bucket[k].1);
                }
                k -= bucket.len();
                visited += 1;
                if visited == 8 {
                    return None;
                }
                bits &= bits - 1;
            }
        }
        None
    }

    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<(u64, T)> {
        if self.head == self.buckets[EQUAL].len() {
            self.refill()?;
        }
        let (key, item) = self.buckets[EQUAL][self.head];
        self.head += 1;
        Some((key.widen(), item))
    }

    /// Bucket `EQUAL` is spent: the run's smallest key becomes `last` and its items of that key
    /// move to `EQUAL`; without a run, the first occupied bucket's smallest key becomes `last`,
    /// and that bucket's items move, in order, to lower levels (empty until now) or `EQUAL` —
    /// or, for a small bucket, sorted into the run.
    #[cold]
    fn refill(&mut self) -> Option<()> {
        self.buckets[EQUAL].clear();
        self.head = 0;
        if let Some(&(key, _)) = self.run.front() {
            self.last = key.widen();
            while let Some(&e) = self.run.front().filter(|e| e.0 == key) {
                self.buckets[EQUAL].push(e);
                self.run.pop_front();
            }
            return Some(());
        }
        let from = self.first_bucket()?;
        let (level, byte) = ((from - 1) / 256, (from - 1) % 256);
        self.occupied[level][byte / 64] &= !(1 << (byte % 64));
        if self.occupied[level] == [0; 4] {
            self.levels &= !(1 << level);
        }
        let mut moved = std::mem::take(&mut self.buckets[from]);
        self.last = self.smallest[from].0;
        self.smallest[from] = (u64::MAX, None);
        if level > 0 && moved.len() <= RUN_FROM {
            // By key, then position: equal keys stay in push order (and no allocation).
            let mut order = std::mem::take(&mut self.order);
            order.clear();
            order.extend(moved.iter().enumerate().map(|(i, e)| (e.0, i as u32)));
            order.sort_unstable();
            self.run.extend(order.iter().map(|&(_, i)| moved[i as usize]));
            self.order = order;
            while let Some(&e) = self.run.front().filter(|e| e.0.widen() == self.last) {
                self.buckets[EQUAL].push(e);
                self.run.pop_front();
            }
            // The bucket's range: the keys that share its bytes from `level` up.
            self.run_range = u64::MAX << (8 * level);
        } else {
            self.run_range = u64::MAX;
            for &(key, item) in &moved {
                self.push(key.widen(), item);
            }
        }
        moved.clear();
        self.buckets[from] = moved;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Aged(u64, u32, u32);

    impl HeapItem for Aged {
        fn before(&self, other: &Self) -> bool {
            (self.0, self.1) < (other.0, other.1)
        }
    }

    /// The textbook 0-based array heap of scikit-image, for comparison.
    fn reference_pops(ops: &[Option<Aged>]) -> Vec<Aged> {
        let mut h: Vec<Aged> = Vec::new();
        let mut out = Vec::new();
        for op in ops {
            match op {
                Some(item) => {
                    h.push(*item);
                    let mut c = h.len() - 1;
                    while c > 0 && h[c].before(&h[(c - 1) / 2]) {
                        h.swap(c, (c - 1) / 2);
                        c = (c - 1) / 2;
                    }
                }
                None => {
                    let Some(last) = h.pop() else { continue };
                    if h.is_empty() {
                        out.push(last);
                        continue;
                    }
                    out.push(std::mem::replace(&mut h[0], last));
                    let mut i = 0;
                    loop {
                        let (l, r) = (2 * i + 1, 2 * i + 2);
                        let mut s = i;
                        if l < h.len() && h[l].before(&h[s]) {
                            s = l;
                        }
                        if r < h.len() && h[r].before(&h[s]) {
                            s = r;
                        }
                        if s == i {
                            break;
                        }
                        h.swap(i, s);
                        i = s;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_array_heap_releases_ties_as_the_textbook_heap() {
        let mut state = 7u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..50 {
            // Few keys and age 0 everywhere: ties everywhere, told apart by the third field.
            let ops: Vec<Option<Aged>> = (0..400u32)
                .map(|i| (next() % 3 != 0).then(|| Aged(next() % (1 + round % 4), 0, i)))
                .collect();
            let mut heap = ArrayHeap::with_capacity(4, Aged(0, 0, 0));
            let mut got = Vec::new();
            for op in &ops {
                match op {
                    Some(item) => heap.push(*item),
                    None => got.extend(heap.pop()),
                }
            }
            assert_eq!(got, reference_pops(&ops), "round {round}");
        }
    }

    #[test]
    fn pipelined_pops_release_as_the_textbook_heap() {
        let mut rng = crate::rng::XorShift64::new(11);
        let mut next = || rng.next_u64();
        for round in 0..12 {
            // Thousands of items (up to 13 levels), few keys (ties everywhere), pushes and pops
            // in bursts so that the heap grows and shrinks while sifts are in flight, and peeks.
            let mut ops: Vec<Option<Aged>> = Vec::new();
            let mut held = 0usize;
            let mut i = 0u32;
            while ops.len() < 40_000 {
                let burst = 1 + (next() % 300) as usize;
                let pushing = held == 0 || next() % 2 == 0;
                for _ in 0..burst {
                    if pushing {
                        ops.push(Some(Aged(next() % (1 + round as u64 * 3), (next() % 3) as u32, i)));
                        i += 1;
                        held += 1;
                    } else {
                        ops.push(None);
                        held = held.saturating_sub(1);
                    }
                }
            }
            let want = reference_pops(&ops);
            for pipeline_from in [usize::MAX, 0, 1, 64] {
                let mut heap = ArrayHeap::with_capacity(4, Aged(0, 0, 0));
                heap.pipeline_from = pipeline_from;
                let mut one_at_a_time = ArrayHeap::with_capacity(4, Aged(0, 0, 0));
                one_at_a_time.pipeline_from = usize::MAX;
                let mut got = Vec::new();
                for (k, op) in ops.iter().enumerate() {
                    match op {
                        Some(item) => {
                            heap.push(*item);
                            one_at_a_time.push(*item);
                        }
                        None => {
                            got.extend(heap.pop());
                            one_at_a_time.pop();
                        }
                    }
                    if k % 7 == 0 {
                        assert_eq!(heap.peek(), one_at_a_time.peek(), "round {round} op {k}");
                    }
                }
                assert_eq!(got, want, "round {round}, pipelined from {pipeline_from}");
            }
        }
    }

    #[test]
    fn the_radix_queue_releases_by_key_then_push_order() {
        // Keys spread over several bytes (large refills spread over the levels), close keys
        // (small refills sorted into the run, pushes inserted into it, runs grown long enough
        // to go back to the buckets) and equal keys (push order), with pushes and pops mixed;
        // keys stored whole, and as u32 where they fit.
        for (spread, pops_every) in [(1_000_003u64, 3u64), (7, 3), (300, 2), (1 << 20, 5), (3, 7)] {
            releases_in_order(FifoRadixQueue::<u32, u64>::new(), spread, pops_every);
            if spread < 1000 {
                releases_in_order(FifoRadixQueue::<u32, u32>::new(), spread, pops_every);
            }
        }
    }

    fn releases_in_order<K: RadixKey>(mut queue: FifoRadixQueue<u32, K>, spread: u64, pops_every: u64) {
        let mut reference = std::collections::BTreeSet::new();
        let mut state = 3u64 + spread;
        let mut pushed = 0u32;
        let mut floor = 0u64;
        for step in 0..20_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if step % pops_every != pops_every - 1 {
                let key = floor + (state >> 40) % 50 * (1 + (state >> 20) % 3) * spread;
                assert!(K::narrow(key).widen() == key, "the test's keys fit the queue's");
                queue.push(key, pushed);
                reference.insert((key, pushed));
                pushed += 1;
            } else {
                // The smallest (key, push number) held, as an ordered set says; peek agrees.
                let want = reference.pop_first();
                assert_eq!(queue.peek(), want.map(|w| w.1), "spread {spread}, step {step}");
                assert_eq!(queue.pop(), want, "spread {spread}, step {step}");
                floor = want.map_or(floor, |w| w.0);
            }
        }
        while let Some(want) = reference.pop_first() {
            assert_eq!(queue.pop(), Some(want));
        }
        assert_eq!(queue.pop(), None);
    }
}
