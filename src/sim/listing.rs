//! List pages of bundles: picking one page of an order, filtered or not (the
//! orders and filters themselves are [`super::filter`]'s). Unfiltered, a page reads only its own items from the
//! order's index (plus, for `created_at_unstable`, the rest of the groups it
//! cuts through); filtered, the first page scans the order comparing interned
//! keys and the next pages read what it found, until the data changes.

use std::cmp::Reverse;

use super::bundle::Bundle;
use super::dataset::Dataset;
use super::filter::{BundleFilter, Filtered, ListOrder, Wanted};
use super::rng::Rng;

/// Index entries as (group, slot): the group is `created_at` in the unstable
/// order (whose equal groups are shuffled) and 0 elsewhere.
type Entries<'a> = Box<dyn Iterator<Item = (i64, u32)> + 'a>;

impl Dataset {
    /// The order's entries from rank `from` on (unshuffled).
    fn entries(&self, order: ListOrder, from: usize) -> Entries<'_> {
        match order {
            ListOrder::NewestFirst | ListOrder::EdgeSwaps => {
                Box::new(self.index.newest.iter_from(from).map(|Reverse(s)| (0, s)))
            }
            ListOrder::CreatedAtUnstable => {
                Box::new(self.index.created.iter_from(from).map(|(Reverse(c), Reverse(s))| (c, s)))
            }
            ListOrder::Id => Box::new(self.index.ids.iter_from(from).map(|(_, s)| (0, s))),
        }
    }

    /// Every bundle in `order`, groups of `created_at_unstable` unshuffled
    /// (ties newest inserted first).
    pub fn ordered(&self, order: ListOrder) -> impl Iterator<Item = &Bundle> {
        self.entries(order, 0).filter_map(|(_, slot)| self.slot(slot))
    }

    /// One page (1-based) of matching list items, pre-serialised, and how many match in all.
    pub fn page(
        &mut self,
        filter: &BundleFilter,
        order: ListOrder,
        page: u64,
        per_page: u64,
        rng: &mut Rng,
    ) -> (Vec<&str>, u64) {
        let skip = usize::try_from(page.saturating_sub(1).saturating_mul(per_page)).unwrap_or(usize::MAX);
        let take = usize::try_from(per_page).unwrap_or(usize::MAX);
        let swaps = order == ListOrder::EdgeSwaps;
        let shuffle = (order == ListOrder::CreatedAtUnstable).then_some(&mut *rng);
        let (slots, total) = match Wanted::of(filter, &self.index.symbols) {
            None if swaps => {
                let first = skip.min(self.len()).saturating_sub(1);
                (swap_edges(self.entries(order, first), first, skip, take, rng), self.len())
            }
            Some(wanted) if swaps => {
                self.refresh_filtered(wanted, order);
                let matching = &self.filtered.entries;
                let first = skip.min(matching.len()).saturating_sub(1);
                let entries = Box::new(matching[first..].iter().copied());
                (swap_edges(entries, first, skip, take, rng), matching.len())
            }
            None => {
                let first = self.first_of_window(order, skip);
                (window(self.entries(order, first), first, skip, take, shuffle), self.len())
            }
            Some(wanted) => {
                self.refresh_filtered(wanted, order);
                let matching = &self.filtered.entries;
                let first = match (order, matching.get(skip)) {
                    (ListOrder::CreatedAtUnstable, Some(&(created, _))) => {
                        matching.partition_point(|(c, _)| *c > created)
                    }
                    _ => skip.min(matching.len()),
                };
                let entries = Box::new(matching[first..].iter().copied());
                (window(entries, first, skip, take, shuffle), matching.len())
            }
        };
        let items = slots.into_iter().filter_map(|slot| self.slot(slot)).map(Bundle::json).collect();
        (items, total as u64)
    }

    fn refresh_filtered(&mut self, wanted: Wanted, order: ListOrder) {
        let key = (wanted, order, self.index.version);
        if self.filtered.key.as_ref() == Some(&key) {
            return;
        }
        let entries = self
            .entries(order, 0)
            .filter(|&(_, slot)| self.slot(slot).is_some_and(|b| key.0.matches(b)))
            .collect();
        self.filtered = Filtered { key: Some(key), entries };
    }

    /// Where an unfiltered page starts reading: its first item, or in the
    /// unstable order the first item of that item's `created_at` group.
    fn first_of_window(&self, order: ListOrder, skip: usize) -> usize {
        if order != ListOrder::CreatedAtUnstable {
            return skip.min(self.len());
        }
        match self.index.created.nth(skip) {
            Some((Reverse(created), _)) => self.index.created.partition_point(|(Reverse(c), _)| *c > created),
            None => self.len(),
        }
    }
}

/// The slots at ranks `skip..skip + take` of `entries` (whose first is at rank
/// `first`). With `shuffle`, every run of equal groups that overlaps the page
/// is read whole and shuffled first, so its items move within and across the
/// page's edges on every request.
fn window(
    entries: Entries<'_>,
    first: usize,
    skip: usize,
    take: usize,
    shuffle: Option<&mut Rng>,
) -> Vec<u32> {
    let Some(rng) = shuffle else {
        return entries.skip(skip.saturating_sub(first)).take(take).map(|(_, slot)| slot).collect();
    };
    let end = skip.saturating_add(take);
    let mut run: Vec<(i64, u32)> = Vec::new();
    let mut lead = None;
    for (rank, (group, slot)) in (first..).zip(entries) {
        let new_group = run.last().is_some_and(|(g, _)| *g != group);
        if rank >= end && new_group {
            break;
        }
        if rank <= skip && new_group {
            run.clear();
        }
        if rank == skip {
            lead = Some(run.len());
        }
        run.push((group, slot));
    }
    let Some(lead) = lead else { return Vec::new() };
    for group in run.chunk_by_mut(|a, b| a.0 == b.0) {
        for i in (1..group.len()).rev() {
            group.swap(i, rng.below(i as u64 + 1) as usize);
        }
    }
    run.into_iter().skip(lead).take(take).map(|(_, slot)| slot).collect()
}

/// The slots at ranks `skip..skip + take` of `entries` (whose first is at
/// rank `first`, `skip - 1` or 0), each edge of the page swapped with its
/// neighbour outside the page at random.
fn swap_edges(entries: Entries<'_>, first: usize, skip: usize, take: usize, rng: &mut Rng) -> Vec<u32> {
    let lead = skip - first;
    let mut run: Vec<u32> = entries.take(lead + take + 1).map(|(_, slot)| slot).collect();
    if lead == 1 && run.len() > 1 && rng.chance(0.5) {
        run.swap(0, 1);
    }
    let last = lead + take;
    if run.len() > last && last > lead && rng.chance(0.5) {
        run.swap(last - 1, last);
    }
    run.into_iter().skip(lead).take(take).collect()
}

/// One page of `matching` (1-based `page`) as JSON bytes, and how many match in all.
/// Only the items on the page are serialised.
pub fn paginate<T, B>(
    matching: impl Iterator<Item = T>,
    page: u64,
    per_page: u64,
    to_json: impl Fn(T) -> B,
) -> (Vec<B>, u64) {
    let skip = page.saturating_sub(1).saturating_mul(per_page);
    let mut total = 0u64;
    let mut items = Vec::new();
    for item in matching {
        if total >= skip && (items.len() as u64) < per_page {
            items.push(to_json(item));
        }
        total += 1;
    }
    (items, total)
}
