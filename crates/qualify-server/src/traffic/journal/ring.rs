//! The request journal (control.md section 6): every `/v1` request, in memory, per instance, in
//! a ring of `--journal-size` entries (0 turns it off; the oldest go first), each with a
//! strictly increasing `seq`; and the patterns that find entries in it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use qualify_core::faults::PathGlob;
use qualify_core::{CustomerId, PartnerId};

use super::entry::Entry;

struct Ring {
    entries: VecDeque<Arc<Entry>>,
    next_seq: u64,
    /// Entries that left the ring to make room, in all and by partner, since the scope was last
    /// cleared.
    evicted: u64,
    evicted_by: HashMap<Option<PartnerId>, u64>,
}

/// The journal of this instance.
pub struct Journal {
    capacity: usize,
    ring: Mutex<Ring>,
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
            ring: Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(1024)),
                next_seq: 1,
                evicted: 0,
                evicted_by: HashMap::new(),
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an entry, giving it the next `seq` (the one it is given is ignored); returns it.
    pub fn record(&self, mut entry: Entry) -> u64 {
        if !self.enabled() {
            return 0;
        }
        let seq = {
            let mut ring = self.lock();
            entry.seq = ring.next_seq;
            ring.next_seq += 1;
            ring.entries.push_back(Arc::new(entry));
            while ring.entries.len() > self.capacity {
                if let Some(old) = ring.entries.pop_front() {
                    ring.evicted += 1;
                    *ring.evicted_by.entry(old.partner).or_default() += 1;
                }
            }
            ring.next_seq - 1
        };
        self.recorded.notify_waiters();
        seq
    }

    /// The entries (of `partner`, or all) with `seq > after`, oldest first, at most `limit`.
    pub fn page(&self, partner: Option<PartnerId>, after: u64, limit: usize) -> Page {
        let ring = self.lock();
        // Entries are in seq order: skip the older ones by binary search.
        let start = ring.entries.partition_point(|e| e.seq <= after);
        let entries = ring
            .entries
            .range(start..)
            .filter(|e| partner.is_none_or(|p| e.partner == Some(p)))
            .take(limit)
            .cloned()
            .collect();
        Page {
            entries,
            evicted: evicted(&ring, partner),
        }
    }

    /// Every entry of the scope, oldest first, and how many of the scope were evicted.
    pub fn scope(&self, partner: Option<PartnerId>) -> Page {
        self.page(partner, 0, usize::MAX)
    }

    /// Forgets the entries of `partner`, or all (a reset); the scope's eviction count starts
    /// over.
    pub fn clear(&self, partner: Option<PartnerId>) {
        let mut ring = self.lock();
        match partner {
            None => {
                ring.entries.clear();
                ring.evicted = 0;
                ring.evicted_by.clear();
            }
            Some(p) => {
                ring.entries.retain(|e| e.partner != Some(p));
                let gone = ring.evicted_by.remove(&Some(p)).unwrap_or(0);
                ring.evicted = ring.evicted.saturating_sub(gone);
            }
        }
    }

    /// The heap bytes the entries hold.
    pub fn heap_bytes(&self) -> usize {
        let ring = self.lock();
        ring.entries.iter().map(|e| e.heap_bytes()).sum::<usize>()
            + ring.entries.capacity() * std::mem::size_of::<Arc<Entry>>()
    }
}

fn evicted(ring: &Ring, partner: Option<PartnerId>) -> u64 {
    match partner {
        None => ring.evicted,
        Some(p) => ring.evicted_by.get(&Some(p)).copied().unwrap_or(0),
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
        let ring = self.lock();
        let n = ring.entries.iter().filter(|e| pattern.matches(e)).count();
        (n, evicted(&ring, pattern.partner) == 0)
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
