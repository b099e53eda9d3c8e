//! The request journal (control.md section 6): every `/v1` request, in memory, per instance, with
//! a strictly increasing `seq`; and the patterns that find entries in it.
//!
//! Each partner's entries are a ring of their own, and the requests no partner can be named for
//! (no token, a refused one) a small ring of theirs ([`UNATTRIBUTED`] entries at most), so that
//! nobody's traffic erases a partner's: an unauthenticated flood turns over only its own ring.
//! `--journal-size` bounds the entries of all rings together (0 turns the journal off); when it is
//! reached, the oldest entry of the largest ring goes first — a partner that floods the journal
//! evicts its own entries before anyone else's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use qualify_core::faults::PathGlob;
use qualify_core::{CustomerId, PartnerId};

use super::entry::Entry;

/// The most entries the ring of unattributed requests keeps (fewer when `--journal-size` is
/// smaller).
pub const UNATTRIBUTED: usize = 1000;

/// One scope's ring (a partner's, or the unattributed requests'), oldest first.
#[derive(Default)]
struct Scope {
    entries: VecDeque<Arc<Entry>>,
    /// Entries that left this ring to make room since the scope was last cleared.
    evicted: u64,
}

impl Scope {
    fn evict_oldest(&mut self) -> bool {
        if self.entries.pop_front().is_none() {
            return false;
        }
        self.evicted += 1;
        // A ring that was large and has been turned over by others gives its slots back.
        let (len, cap) = (self.entries.len(), self.entries.capacity());
        if cap > 64 && len < cap / 4 {
            self.entries.shrink_to(len * 2);
        }
        true
    }
}

struct Rings {
    scopes: HashMap<Option<PartnerId>, Scope>,
    /// Entries in all scopes.
    held: usize,
    next_seq: u64,
    /// Entries evicted from any scope since the journal was last cleared.
    evicted: u64,
}

impl Rings {
    /// The scope to evict from when the journal is full: the one holding the most entries, of
    /// those the one whose oldest entry is oldest (so that evenly used rings turn over like one).
    fn largest(&self) -> Option<Option<PartnerId>> {
        self.scopes
            .iter()
            .max_by_key(|(_, s)| {
                let oldest = s.entries.front().map_or(u64::MAX, |e| e.seq);
                (s.entries.len(), std::cmp::Reverse(oldest))
            })
            .map(|(k, _)| *k)
    }

    fn evict_from(&mut self, key: Option<PartnerId>) {
        if let Some(scope) = self.scopes.get_mut(&key)
            && scope.evict_oldest()
        {
            self.held -= 1;
            self.evicted += 1;
        }
    }

    /// The entries of `partner`'s scope (oldest first, at most `limit`), or of all scopes (in no
    /// order, every one: the caller orders and cuts them once the lock is released) with
    /// `seq > after`.
    fn entries(&self, partner: Option<PartnerId>, after: u64, limit: usize) -> Vec<Arc<Entry>> {
        // Entries are in seq order: skip the older ones by binary search.
        fn after_in(s: &Scope, after: u64) -> std::collections::vec_deque::Iter<'_, Arc<Entry>> {
            let start = s.entries.partition_point(|e| e.seq <= after);
            s.entries.range(start..)
        }
        match partner {
            Some(p) => self
                .scopes
                .get(&Some(p))
                .map(|s| after_in(s, after).take(limit).cloned().collect())
                .unwrap_or_default(),
            None => self
                .scopes
                .values()
                .flat_map(|s| after_in(s, after))
                .cloned()
                .collect(),
        }
    }

    fn evicted(&self, partner: Option<PartnerId>) -> u64 {
        match partner {
            None => self.evicted,
            Some(p) => self.scopes.get(&Some(p)).map_or(0, |s| s.evicted),
        }
    }
}

/// The journal of this instance.
pub struct Journal {
    capacity: usize,
    rings: Mutex<Rings>,
    /// Wakes followers (`GET /admin/v1/journal` long polls do not exist; the CLI polls).
    pub recorded: tokio::sync::Notify,
}

/// A page of the journal.
#[derive(Debug, Clone)]
pub struct Page {
    pub entries: Vec<Arc<Entry>>,
    pub evicted: u64,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            rings: Mutex::new(Rings {
                scopes: HashMap::new(),
                held: 0,
                next_seq: 1,
                evicted: 0,
            }),
            recorded: tokio::sync::Notify::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.rings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an entry, giving it the next `seq` (the one it is given is ignored); returns it.
    pub fn record(&self, mut entry: Entry) -> u64 {
        if !self.enabled() {
            return 0;
        }
        let seq = {
            let mut rings = self.lock();
            let rings = &mut *rings;
            let key = entry.partner;
            entry.seq = rings.next_seq;
            rings.next_seq += 1;
            // The unattributed ring turns over within its own bound.
            if key.is_none()
                && rings
                    .scopes
                    .get(&None)
                    .is_some_and(|s| s.entries.len() >= UNATTRIBUTED.min(self.capacity))
            {
                rings.evict_from(None);
            }
            rings
                .scopes
                .entry(key)
                .or_default()
                .entries
                .push_back(Arc::new(entry));
            rings.held += 1;
            while rings.held > self.capacity {
                match rings.largest() {
                    Some(largest) => rings.evict_from(largest),
                    None => break,
                }
            }
            rings.next_seq - 1
        };
        self.recorded.notify_waiters();
        seq
    }

    /// The entries (of `partner`, or all) with `seq > after`, oldest first, at most `limit`.
    pub fn page(&self, partner: Option<PartnerId>, after: u64, limit: usize) -> Page {
        let (mut entries, evicted) = {
            let rings = self.lock();
            (rings.entries(partner, after, limit), rings.evicted(partner))
        };
        if partner.is_none() {
            // Merged across the partners' rings outside the lock: an operator's read of the
            // whole journal holds up the partners' requests only while pointers are copied.
            entries.sort_unstable_by_key(|e| e.seq);
            entries.truncate(limit);
        }
        Page { entries, evicted }
    }

    /// Every entry of the scope, oldest first, and how many of the scope were evicted.
    pub fn scope(&self, partner: Option<PartnerId>) -> Page {
        self.page(partner, 0, usize::MAX)
    }

    /// Forgets the entries of `partner`, or all (a reset); the scope's eviction count starts
    /// over.
    pub fn clear(&self, partner: Option<PartnerId>) {
        let mut rings = self.lock();
        match partner {
            None => {
                rings.scopes.clear();
                rings.held = 0;
                rings.evicted = 0;
            }
            Some(p) => {
                if let Some(gone) = rings.scopes.remove(&Some(p)) {
                    rings.held -= gone.entries.len();
                    rings.evicted = rings.evicted.saturating_sub(gone.evicted);
                }
            }
        }
    }

    /// The heap bytes the entries hold.
    pub fn heap_bytes(&self) -> usize {
        let rings = self.lock();
        rings
            .scopes
            .values()
            .map(|s| {
                s.entries.iter().map(|e| e.heap_bytes()).sum::<usize>()
                    + s.entries.capacity() * std::mem::size_of::<Arc<Entry>>()
            })
            .sum()
    }
}

// ---- patterns ----------------------------------------------------------------------------------

/// What `find` and `count` look for; every field given must hold.
#[derive(Debug, Clone, Default)]
pub struct Pattern {
    pub method: Option<String>,
    pub path: Option<PathGlob>,
    pub partner: Option<PartnerId>,
    pub customer_id: Option<CustomerId>,
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub body_contains: Option<String>,
}

impl Pattern {
    /// The pattern's fields (but `partner`, which scopes the search) that `e` does not satisfy.
    pub fn differences(&self, e: &Entry) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(&e.method))
        {
            out.push("method");
        }
        if self.path.as_ref().is_some_and(|g| !g.matches(&e.path)) {
            out.push("path");
        }
        if self.customer_id.is_some_and(|c| e.customer() != Some(c)) {
            out.push("customerId");
        }
        if self.status.is_some_and(|s| e.status != Some(s)) {
            out.push("status");
        }
        if self
            .request_id
            .as_deref()
            .is_some_and(|r| r != &*e.request_id)
        {
            out.push("requestId");
        }
        if self
            .body_contains
            .as_deref()
            .is_some_and(|b| !e.body.as_deref().unwrap_or("").contains(b))
        {
            out.push("bodyContains");
        }
        out
    }

    pub fn matches(&self, e: &Entry) -> bool {
        self.partner.is_none_or(|p| e.partner == Some(p)) && self.differences(e).is_empty()
    }
}

/// The result of `find`.
pub struct Found {
    pub entries: Vec<Arc<Entry>>,
    /// When nothing matched: up to 3 entries of the scope closest to the pattern (fewest
    /// differing fields, newest first), with the fields that differed.
    pub near_misses: Vec<(Arc<Entry>, Vec<&'static str>)>,
    pub complete: bool,
}

impl Journal {
    pub fn find(&self, pattern: &Pattern) -> Found {
        let scope = self.scope(pattern.partner);
        let entries: Vec<Arc<Entry>> = scope
            .entries
            .iter()
            .filter(|e| pattern.matches(e))
            .cloned()
            .collect();
        let mut near_misses = Vec::new();
        if entries.is_empty() {
            let mut scored: Vec<(Arc<Entry>, Vec<&'static str>)> = scope
                .entries
                .iter()
                .rev()
                .map(|e| (e.clone(), pattern.differences(e)))
                .collect();
            // Stable: among equally close ones the newest stay first.
            scored.sort_by_key(|(_, d)| d.len());
            near_misses = scored.into_iter().take(3).collect();
        }
        Found {
            entries,
            near_misses,
            complete: scope.evicted == 0,
        }
    }

    /// How many entries match, and whether entries that might have matched were evicted.
    pub fn count(&self, pattern: &Pattern) -> (usize, bool) {
        let rings = self.lock();
        let n = rings
            .scopes
            .iter()
            .filter(|(k, _)| pattern.partner.is_none_or(|p| **k == Some(p)))
            .map(|(_, s)| s.entries.iter().filter(|e| pattern.matches(e)).count())
            .sum();
        (n, rings.evicted(pattern.partner) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::journal::entry::sample as entry;

    #[test]
    fn the_ring_keeps_the_newest_counts_evictions_by_scope_and_clears() {
        let (p, q) = (PartnerId::new_random(), PartnerId::new_random());
        let j = Journal::new(3);
        for i in 0..5 {
            let partner = if i % 2 == 0 { p } else { q };
            j.record(entry(Some(partner), "GET", "/v1/customers"));
        }
        let all = j.scope(None);
        assert_eq!(
            all.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(all.evicted, 2);
        assert_eq!(j.scope(Some(p)).evicted, 1, "seq 1 was p's");
        assert_eq!(j.page(None, 3, 1).entries[0].seq, 4);
        let pattern = Pattern {
            partner: Some(p),
            ..Pattern::default()
        };
        assert_eq!(j.count(&pattern), (2, false));
        j.clear(Some(p));
        assert_eq!(
            j.count(&pattern),
            (0, true),
            "a cleared scope is complete again"
        );
        assert_eq!(j.scope(None).entries.len(), 1);
        assert_eq!(j.scope(Some(q)).evicted, 1);
        let next = j.record(entry(None, "GET", "/v1/x"));
        assert_eq!(next, 6, "seq never goes back");
        assert!(!Journal::new(0).enabled());
    }

    #[test]
    fn nobody_elses_traffic_evicts_a_partners_entries() {
        let (p, flood) = (PartnerId::new_random(), PartnerId::new_random());
        let j = Journal::new(2 * UNATTRIBUTED);
        for _ in 0..10 {
            j.record(entry(Some(p), "POST", "/v1/customers"));
        }
        // Ten times the journal's size of unattributed requests: they turn over their own ring.
        for _ in 0..20 * UNATTRIBUTED {
            j.record(entry(None, "POST", "/v1/customers"));
        }
        let mine = j.scope(Some(p));
        assert_eq!((mine.entries.len(), mine.evicted), (10, 0));
        assert_eq!(j.scope(None).entries.len(), 10 + UNATTRIBUTED);
        // Another partner's flood fills the rest, then evicts from the largest rings (its own and
        // the unattributed one), never from the smaller one of p.
        for _ in 0..10 * UNATTRIBUTED {
            j.record(entry(Some(flood), "GET", "/v1/customers"));
        }
        let mine = j.scope(Some(p));
        assert_eq!((mine.entries.len(), mine.evicted), (10, 0));
        let theirs = j.scope(Some(flood));
        assert!(theirs.evicted > 0 && theirs.entries.len() >= UNATTRIBUTED - 10);
        let pattern = Pattern {
            partner: Some(p),
            ..Pattern::default()
        };
        assert_eq!(j.count(&pattern), (10, true));
        // All of them, in seq order, still bounded by the journal's size.
        let all = j.scope(None);
        assert_eq!(all.entries.len(), 2 * UNATTRIBUTED);
        assert!(all.entries.windows(2).all(|w| w[0].seq < w[1].seq));
    }

    #[test]
    fn find_reports_near_misses_with_what_differed() {
        let j = Journal::new(10);
        let p = PartnerId::new_random();
        let mut e = entry(Some(p), "POST", "/v1/customers/x/qualifications");
        e.status = Some(201);
        j.record(e);
        j.record(entry(Some(p), "GET", "/v1/customers"));
        j.record(entry(
            Some(PartnerId::new_random()),
            "POST",
            "/v1/customers/x/qualifications",
        ));
        let pattern = Pattern {
            method: Some("post".into()),
            path: Some(PathGlob::parse("/v1/customers/*/qualifications").unwrap()),
            partner: Some(p),
            status: Some(503),
            ..Pattern::default()
        };
        let found = j.find(&pattern);
        assert!(found.entries.is_empty());
        assert_eq!(found.near_misses.len(), 2, "only p's entries");
        assert_eq!(found.near_misses[0].1, ["status"]);
        assert_eq!(found.near_misses[1].1, ["method", "path", "status"]);
        let hit = Pattern {
            status: Some(201),
            ..pattern
        };
        let found = j.find(&hit);
        assert_eq!(found.entries.len(), 1);
        assert!(found.near_misses.is_empty() && found.complete);
    }
}
