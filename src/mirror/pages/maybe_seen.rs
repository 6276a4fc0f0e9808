//! Which ids a walk may have recorded in its seen set, in memory and of a
//! fixed size (a Bloom filter), so a page none of whose ids the walk can
//! have delivered before skips the seen set's lookup in Postgres.
//!
//! Every id a walk records goes through its [`Writer`](super::writer::Writer)
//! (the seen set is per run, and a run is walked by one process), and is
//! added here before its page is written, so "not held" is always true: such
//! an id is absent from the seen set, which is what the lookup would have
//! answered. "Maybe held" is sometimes wrong, and then the lookup answers.
//! The filter never shrinks: a page rolled back, or a seen set Postgres lost,
//! only leaves ids looked up for nothing. With 2^25 bits (4 MiB) and 7 bits
//! an id, about one id in 100,000 is looked up for nothing at 1,000,000 ids,
//! one in 200 at 3,000,000; past that the filter fills and more pages are
//! looked up, as every page was before: the memory stays the same whatever
//! the account.

use std::hash::BuildHasher;

const BITS_LOG2: u32 = 25;
const HASHES: u64 = 7;

pub(super) struct MaybeSeen {
    bits: Vec<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl MaybeSeen {
    pub(super) fn new() -> MaybeSeen {
        MaybeSeen::with_bits(BITS_LOG2)
    }

    fn with_bits(log2: u32) -> MaybeSeen {
        // Zeroed pages are only mapped as the filter sets bits in them.
        MaybeSeen { bits: vec![0; 1 << (log2 - 6)], hasher: Default::default() }
    }

    pub(super) fn insert(&mut self, id: &str) {
        for bit in self.positions(id) {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }

    /// False only for an id never inserted.
    pub(super) fn may_hold(&self, id: &str) -> bool {
        self.positions(id).all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// The id's bits: two halves of one 64-bit hash combined
    /// (`h1 + i * h2`), which keeps the false positives of independent hashes.
    fn positions(&self, id: &str) -> impl Iterator<Item = usize> + use<> {
        let hash = self.hasher.hash_one(id);
        let (h1, h2) = (hash & 0xffff_ffff, (hash >> 32) | 1);
        let mask = (self.bits.len() * 64 - 1) as u64;
        (0..HASHES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) & mask) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::MaybeSeen;

    #[test]
    fn every_id_inserted_may_be_held_and_most_others_are_known_not_to_be() {
        // A small filter, well past the load a walk puts on the real one.
        let mut filter = MaybeSeen::with_bits(16);
        let ids: Vec<String> = (0..5_000).map(|i| format!("bundle-{i:08}")).collect();
        for id in &ids {
            filter.insert(id);
        }
        assert!(ids.iter().all(|id| filter.may_hold(id)), "an id inserted was reported never seen");
        let strangers = (0..10_000).filter(|i| filter.may_hold(&format!("other-{i:08}"))).count();
        assert!(strangers < 300, "{strangers} of 10,000 ids never inserted reported maybe held");
    }

    #[test]
    fn an_empty_filter_holds_nothing() {
        let filter = MaybeSeen::new();
        assert!((0..1_000).all(|i| !filter.may_hold(&format!("{i}"))));
    }
}
