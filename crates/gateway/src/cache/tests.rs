//! The in-process tier: what a lookup returns after inserts and purges, hot-entry table
//! included.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::*;
use crate::entry::EntryKind;

fn cache() -> MokaResponseCache {
    MokaResponseCache::new(64 << 20, Duration::from_secs(3600))
}

fn key(identifier: &str, space: Option<&str>) -> TaskKey {
    let query = space.map(|space| format!("space={space}"));
    TaskKey::from_path_and_query(&format!("/api/v1/tasks/{identifier}"), query.as_deref()).unwrap()
}

/// The first of the keys `t-0`, `t-1`, ... of `space` that `wanted` accepts.
fn first_key_where(space: &str, wanted: impl Fn(&TaskKey) -> bool) -> TaskKey {
    (0..100_000)
        .map(|i| key(&format!("t-{i}"), Some(space)))
        .find(wanted)
        .expect("a wanted key among 100,000")
}

fn answer(body: &str) -> StoredResponse {
    StoredResponse::new(
        StatusCode::OK,
        Bytes::copy_from_slice(body.as_bytes()),
        HeaderValue::from_static("application/json"),
        EntryKind::SettledTask,
        Duration::from_secs(3600),
    )
}

fn body_of(cache: &MokaResponseCache, key: &TaskKey) -> Option<Bytes> {
    cache.get(&key.key_ref()).map(|entry| entry.shared_body())
}

/// Reads `key` often enough that the thread's table answers it, checking every answer.
fn read_hot(cache: &MokaResponseCache, key: &TaskKey, expected: &str) {
    for _ in 0..2 * hot_entries::RECORD_EVERY {
        assert_eq!(body_of(cache, key).as_deref(), Some(expected.as_bytes()));
    }
}

#[test]
fn a_new_answer_replaces_a_hot_one_at_once() {
    let cache = cache();
    let task = key("t-1", Some("acme"));
    cache.insert(task.clone(), answer("old"));
    read_hot(&cache, &task, "old");
    cache.insert(task.clone(), answer("new"));
    read_hot(&cache, &task, "new");
}

#[test]
fn every_purge_scope_reaches_hot_entries_at_once() {
    let acme = key("t-1", Some("acme"));
    let other = key("t-1", Some("other"));
    let without = key("t-1", None);
    for scope in [
        PurgeScope::Task(acme.clone()),
        PurgeScope::Space("acme".parse().unwrap()),
        PurgeScope::WithoutSpace,
        PurgeScope::All,
    ] {
        let cache = cache();
        for task in [&acme, &other, &without] {
            cache.insert(task.clone(), answer(task.space_label()));
            read_hot(&cache, task, task.space_label());
        }
        cache.purge(&scope);
        for task in [&acme, &other, &without] {
            let kept = !scope.covers(&task.key_ref());
            assert_eq!(body_of(&cache, task).is_some(), kept, "{scope:?} {task:?}");
        }
    }
}

#[test]
fn storing_one_key_leaves_the_hot_entries_of_other_shards_answering() {
    let cache = cache();
    let hot = key("t-hot", Some("acme"));
    let shard = hot_entries::shard_of(&hot.key_ref());
    let other = first_key_where("acme", |candidate| {
        hot_entries::shard_of(&candidate.key_ref()) != shard
    });
    cache.insert(hot.clone(), answer("hot"));
    read_hot(&cache, &hot, "hot");
    cache.insert(other, answer("other"));
    // With the entry gone from moka behind the table's back, only the hot slot can answer.
    cache.entries.invalidate(&hot);
    let answers = (0..2).filter(|_| body_of(&cache, &hot).is_some()).count();
    assert!(
        answers >= 1,
        "the hot slot was emptied by another shard's change"
    );
}

#[test]
fn keys_sharing_a_slot_never_answer_for_each_other() {
    let cache = cache();
    // Find two keys of different spaces that the table puts in the same slot.
    let first = key("t-0", Some("acme"));
    let slot = hot_entries::slot_of(&first.key_ref());
    let second = first_key_where("other", |candidate| {
        hot_entries::slot_of(&candidate.key_ref()) == slot
    });
    cache.insert(first.clone(), answer("acme's"));
    cache.insert(second.clone(), answer("other's"));
    for _ in 0..4 * hot_entries::DISPLACE_EVERY {
        assert_eq!(body_of(&cache, &first).as_deref(), Some(&b"acme's"[..]));
        assert_eq!(body_of(&cache, &second).as_deref(), Some(&b"other's"[..]));
    }
}

#[test]
fn a_threads_hot_entries_hold_bounded_bodies_and_the_rest_still_answer() {
    let cache = MokaResponseCache::new(256 << 20, Duration::from_secs(3600));
    let body = "x".repeat(16_000);
    let tasks: Vec<TaskKey> = (0..2_000)
        .map(|i| key(&format!("t-{i}"), Some("acme")))
        .collect();
    for task in &tasks {
        cache.insert(task.clone(), answer(&body));
    }
    for _ in 0..2 {
        for task in &tasks {
            assert_eq!(body_of(&cache, task).as_deref(), Some(body.as_bytes()));
        }
    }
    let held = hot_entries::held_body_bytes();
    assert!(
        held <= hot_entries::MAX_HELD_BODY_BYTES,
        "{held} bytes held"
    );
    assert!(
        held > hot_entries::MAX_HELD_BODY_BYTES / 2,
        "only {held} bytes held"
    );
}

#[test]
fn one_cache_never_answers_from_another_caches_hot_entries() {
    let (a, b) = (cache(), cache());
    let task = key("t-1", Some("acme"));
    a.insert(task.clone(), answer("a's"));
    read_hot(&a, &task, "a's");
    assert!(b.get(&task.key_ref()).is_none());
}

#[test]
fn another_threads_change_reaches_this_threads_hot_entries_at_once() {
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicBool, Ordering};

    let task = key("t-1", Some("acme"));
    for scope in [
        None,
        Some(PurgeScope::Task(task.clone())),
        Some(PurgeScope::Space("acme".parse().unwrap())),
        Some(PurgeScope::All),
    ] {
        let cache = Arc::new(cache());
        cache.insert(task.clone(), answer("old"));
        let (changed, ready) = (Arc::new(AtomicBool::new(false)), Arc::new(Barrier::new(2)));
        let reader = {
            let (cache, task, changed, ready) = (
                Arc::clone(&cache),
                task.clone(),
                Arc::clone(&changed),
                Arc::clone(&ready),
            );
            std::thread::spawn(move || {
                read_hot(&cache, &task, "old");
                ready.wait();
                // Until the writer says so, either answer may come; from then on only the new.
                while !changed.load(Ordering::SeqCst) {
                    let _ = body_of(&cache, &task);
                }
                for _ in 0..2 * hot_entries::RECORD_EVERY {
                    assert_ne!(body_of(&cache, &task).as_deref(), Some(&b"old"[..]));
                }
            })
        };
        ready.wait();
        match &scope {
            None => cache.insert(task.clone(), answer("new")),
            Some(scope) => cache.purge(scope),
        }
        changed.store(true, Ordering::SeqCst);
        reader
            .join()
            .expect("the reader never saw the old answer after the change");
    }
}
