//! Seek positions for deep SCIM list pages (issue 11): `startIndex=90001` in SCIM's default order
//! would otherwise walk 90,000 index entries (OFFSET) on every request. Per organisation, the key
//! `(created_at, id)` of every [`EVERY`]th live user is remembered, so a page starts from the
//! nearest key before it and walks fewer than [`EVERY`] entries.
//!
//! The keys are valid while the organisation's live set is unchanged: `org_user_counts.changes`
//! (migration 0016, kept by triggers on every write) grows whenever a user is created, soft
//! deleted, revived or purged, and the keys are kept with the value they were read at. The
//! ordering key itself never changes (`created_at` and `id` are written once). The value lives in
//! the database, so several server instances each keep their own keys and none uses stale ones.
//! The keys are found on demand, from the last one known, as deeper pages are asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One key per this many users.
pub const EVERY: i64 = 1000;

/// More organisations than this: the cache starts over (a few KB each at 100,000 users).
const MAX_ORGS: usize = 4096;

/// `keys[k]` is the `(created_at, id)` of the live user at position `(k + 1) * EVERY` (1-based) in
/// SCIM's default order.
#[derive(Debug, Clone)]
pub struct Keys {
    pub changes: i64,
    pub keys: Arc<Vec<(i64, String)>>,
}

#[derive(Debug, Default)]
pub struct ListSeeks {
    by_org: Mutex<HashMap<String, Keys>>,
    /// One finder of missing keys per organisation at a time: the requests that arrive meanwhile
    /// (an IdP's import asks for many pages at once) wait for its keys instead of each walking
    /// the same index entries (issue 11: the first deep pages were a list's slowest).
    finding: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ListSeeks {
    /// The turn to find keys of `org_id`, held until the returned guard is dropped.
    pub async fn finder(&self, org_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.finding.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= MAX_ORGS && !map.contains_key(org_id) {
                // Only locks nobody holds or waits for go (the map holds the other reference).
                map.retain(|_, l| Arc::strong_count(l) > 1);
            }
            map.entry(org_id.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The keys known for `org_id` at this value of its change counter (none if it moved).
    pub fn get(&self, org_id: &str, changes: i64) -> Vec<(i64, String)> {
        let map = self.by_org.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(org_id) {
            Some(k) if k.changes == changes => k.keys.as_ref().clone(),
            _ => Vec::new(),
        }
    }

    /// Remembers keys read at `changes`, unless longer ones for the same value are already known.
    pub fn put(&self, org_id: &str, changes: i64, keys: Vec<(i64, String)>) {
        let mut map = self.by_org.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = map.get(org_id) {
            if k.changes == changes && k.keys.len() >= keys.len() {
                return;
            }
        }
        if map.len() >= MAX_ORGS && !map.contains_key(org_id) {
            map.clear();
        }
        map.insert(
            org_id.to_string(),
            Keys {
                changes,
                keys: Arc::new(keys),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_returned_only_for_the_counter_value_they_were_read_at() {
        let s = ListSeeks::default();
        assert!(s.get("o", 1).is_empty());
        s.put("o", 1, vec![(5, "a".into())]);
        assert_eq!(s.get("o", 1), vec![(5, "a".to_string())]);
        assert!(s.get("o", 2).is_empty(), "a change makes them stale");
        assert!(s.get("p", 1).is_empty(), "another org's keys are its own");
        // Shorter keys for the same value do not replace longer ones; a new value replaces all.
        s.put("o", 1, vec![]);
        assert_eq!(s.get("o", 1).len(), 1);
        s.put("o", 2, vec![]);
        assert!(s.get("o", 1).is_empty());
    }
}
