//! A sorted set kept in chunks of at most [`MAX_CHUNK`] items: insert and remove
//! move one chunk's items, and finding the k-th item walks the chunk lengths
//! (about a thousand for a million items), so a list page costs about the same
//! whatever the number of bundles.

/// A chunk over this size is split in two.
const MAX_CHUNK: usize = 2048;

/// Chunk size of a bulk load: half full, so inserts rarely split at once.
const LOAD_CHUNK: usize = MAX_CHUNK / 2;

#[derive(Debug, Clone)]
pub struct Sorted<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Sorted<T> {
    fn default() -> Self {
        Sorted { chunks: Vec::new(), len: 0 }
    }
}

impl<T: Ord + Copy> Sorted<T> {
    /// Sorts and deduplicates `items`, then chunks them.
    pub fn from_items(mut items: Vec<T>) -> Self {
        items.sort_unstable();
        items.dedup();
        let len = items.len();
        let chunks = items.chunks(LOAD_CHUNK).map(<[T]>::to_vec).collect();
        Sorted { chunks, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk `item` belongs in: the first whose last item is not smaller.
    fn chunk_for(&self, item: &T) -> usize {
        let i = self.chunks.partition_point(|c| c.last().is_some_and(|last| last < item));
        i.min(self.chunks.len().saturating_sub(1))
    }

    /// False if it was already there.
    pub fn insert(&mut self, item: T) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(vec![item]);
            self.len = 1;
            return true;
        }
        let c = self.chunk_for(&item);
        let chunk = &mut self.chunks[c];
        let Err(at) = chunk.binary_search(&item) else { return false };
        chunk.insert(at, item);
        if chunk.len() > MAX_CHUNK {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(c + 1, tail);
        }
        self.len += 1;
        true
    }

    /// False if it was not there.
    pub fn remove(&mut self, item: &T) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let c = self.chunk_for(item);
        let chunk = &mut self.chunks[c];
        let Ok(at) = chunk.binary_search(item) else { return false };
        chunk.remove(at);
        if chunk.is_empty() {
            self.chunks.remove(c);
        }
        self.len -= 1;
        true
    }

    /// How many items satisfy `pred`, which must hold for a prefix of the set
    /// and fail for the rest (like `slice::partition_point`).
    pub fn partition_point(&self, pred: impl Fn(&T) -> bool) -> usize {
        let mut before = 0;
        for chunk in &self.chunks {
            match chunk.last() {
                Some(last) if pred(last) => before += chunk.len(),
                _ => return before + chunk.partition_point(&pred),
            }
        }
        before
    }

    /// The items from the `start`-th on, in order.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = T> + '_ {
        let mut skip = start;
        let mut first = self.chunks.len();
        for (i, chunk) in self.chunks.iter().enumerate() {
            if skip < chunk.len() {
                first = i;
                break;
            }
            skip -= chunk.len();
        }
        let head = self.chunks.get(first).map_or(&[][..], |c| &c[skip..]);
        let rest = self.chunks.get(first + 1..).unwrap_or_default();
        head.iter().chain(rest.iter().flatten()).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.chunks.iter().flatten().copied()
    }

    pub fn nth(&self, n: usize) -> Option<T> {
        self.iter_from(n).next()
    }

    pub fn first(&self) -> Option<T> {
        self.chunks.first().and_then(|c| c.first()).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Rng;

    #[test]
    fn it_stays_sorted_and_finds_every_rank_across_splits() {
        let mut rng = Rng::new(3);
        let mut sorted = Sorted::from_items((0..5000u64).map(|n| n * 2).collect());
        let mut set: std::collections::BTreeSet<u64> = sorted.iter().collect();
        for _ in 0..6000 {
            let n = rng.below(12_000);
            if rng.chance(0.6) {
                assert_eq!(sorted.insert(n), set.insert(n));
            } else {
                assert_eq!(sorted.remove(&n), set.remove(&n));
            }
        }
        let model: Vec<u64> = set.into_iter().collect();
        assert_eq!(sorted.iter().collect::<Vec<_>>(), model);
        assert_eq!(sorted.len(), model.len());
        for k in [0, 1, 1023, 1024, 2047, 2048, model.len() - 1, model.len()] {
            assert_eq!(sorted.nth(k), model.get(k).copied(), "rank {k}");
            assert_eq!(sorted.iter_from(k).count(), model.len().saturating_sub(k));
        }
        let cut = model[model.len() / 3];
        assert_eq!(sorted.partition_point(|x| *x < cut), model.len() / 3);
    }

    #[test]
    fn an_empty_set_has_nothing_at_any_rank() {
        let mut sorted: Sorted<u32> = Sorted::default();
        assert!(sorted.is_empty() && sorted.nth(0).is_none() && sorted.first().is_none());
        assert!(!sorted.remove(&1));
        assert!(sorted.insert(1) && !sorted.insert(1) && sorted.remove(&1) && sorted.is_empty());
        assert_eq!(sorted.partition_point(|_| true), 0);
    }
}
