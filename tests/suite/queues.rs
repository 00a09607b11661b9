//! kazoo's Queue and LockingQueue on every adapter: kazoo's entry names,
//! priorities, timed gets that leave no watch, and every item consumed
//! exactly once while a consumer's session is expired mid-item.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use kazoo::recipe::RecipeError;
use kazoo::{Client, Error};

use super::groups::expire;
use super::recipes::{children, no_watches_left};
use super::{Adapter, Backend, Ctx, WAIT};

pub fn queue_serves_by_priority_then_arrival<A: Adapter>() {
    let ctx = Ctx::new::<A>("queue");
    let q = ctx.client.queue("/q");
    assert_eq!(q.get().wait().unwrap(), None, "a missing queue is empty");
    assert_eq!(q.len().wait().unwrap(), 0);
    let first = q.put("b1").wait().unwrap();
    assert_eq!(first, "/q/entry-100-0000000000");
    q.put("b2").wait().unwrap();
    q.put_with_priority("a", 5).wait().unwrap();
    q.put_with_priority("z", 999).wait().unwrap();
    ctx.client.create("/q/junk").send().wait().unwrap();
    assert_eq!(q.len().wait().unwrap(), 5, "kazoo counts every child");
    let other = ctx.another::<A>().queue("/q");
    for want in ["a", "b1", "b2", "z"] {
        assert_eq!(
            other.get().wait().unwrap().as_deref(),
            Some(want.as_bytes())
        );
    }
    assert_eq!(q.get().wait().unwrap(), None);
    assert_eq!(
        children(&ctx.client, "/q"),
        ["junk"],
        "not an entry: left alone"
    );
    assert!(matches!(
        q.put_with_priority("x", 1000).wait(),
        Err(Error::Recipe(RecipeError::OutOfRange { .. }))
    ));

    // Timed gets wait, and leave no watch behind when they time out.
    for _ in 0..5 {
        assert_eq!(
            q.get_timeout(Duration::from_millis(50)).wait().unwrap(),
            None
        );
    }
    no_watches_left(&ctx, &ctx.client);
    let waiting = {
        let q = q.clone();
        thread::spawn(move || q.get_timeout(WAIT).wait())
    };
    thread::sleep(Duration::from_millis(100));
    other.put("late").wait().unwrap();
    assert_eq!(
        waiting.join().unwrap().unwrap().as_deref(),
        Some(&b"late"[..])
    );
}

pub fn locking_queue_locks_consumes_and_releases<A: Adapter>() {
    let ctx = Ctx::new::<A>("locking-queue");
    let second = ctx.another::<A>();
    let a = ctx.client.locking_queue("/lq");
    let b = second.locking_queue("/lq");
    a.put_all(["one", "two"], 100).wait().unwrap();
    a.put_with_priority("zero", 0).wait().unwrap();
    assert_eq!(a.len().wait().unwrap(), 3);
    let entries = children(&ctx.client, "/lq/entries");
    assert_eq!(
        entries,
        [
            "entry-000-0000000002",
            "entry-100-0000000000",
            "entry-100-0000000001"
        ]
    );
    assert_eq!(a.get().wait().unwrap(), "zero");
    assert_eq!(a.get().wait().unwrap(), "zero", "the held item again");
    assert!(a.holds_lock().wait().unwrap());
    let (lock_data, stat) = ctx
        .client
        .get("/lq/taken/entry-000-0000000002")
        .send()
        .wait()
        .unwrap();
    assert_eq!(
        lock_data.map(|d| d.len()),
        Some(32),
        "the consumer's uuid hex"
    );
    assert_eq!(stat.ephemeral_owner, ctx.client.session_id());
    // The other consumer skips the locked entry.
    assert_eq!(b.get().wait().unwrap(), "one");
    assert!(b.holds_lock().wait().unwrap());
    assert!(a.release().wait().unwrap());
    assert!(!a.release().wait().unwrap(), "nothing held now");
    assert!(!a.holds_lock().wait().unwrap());
    assert_eq!(a.get().wait().unwrap(), "zero", "released: back in line");
    assert!(a.consume().wait().unwrap());
    assert!(b.consume().wait().unwrap());
    assert_eq!(a.len().wait().unwrap(), 1);
    assert!(children(&ctx.client, "/lq/taken").is_empty());
    assert_eq!(a.get().wait().unwrap(), "two");
    for _ in 0..5 {
        assert_eq!(
            b.get_timeout(Duration::from_millis(50)).wait().unwrap(),
            None
        );
    }
    no_watches_left(&ctx, &second);
    assert!(a.consume().wait().unwrap());
    assert!(!a.consume().wait().unwrap());
    assert!(matches!(
        a.put_all(["x"], 1000).wait(),
        Err(Error::Recipe(RecipeError::OutOfRange { .. }))
    ));
}

pub fn locking_queue_consumes_each_item_once_across_an_expiry<A: Adapter>() {
    let ctx = Ctx::new::<A>("locking-queue-load");
    // The full 4 x 4 x 1,000 on the real server; a quarter on the
    // embedded pass (every take lists every entry: it adds up).
    let per_producer = match ctx.server {
        Backend::Java(_) => 1000,
        Backend::Embedded(_) => 250,
    };
    let total = 4 * per_producer;
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let client = ctx.another::<A>();
            thread::spawn(move || {
                let q = client.locking_queue("/lq");
                for i in 0..per_producer {
                    q.put(format!("{p}-{i}")).wait_timeout(WAIT).unwrap();
                }
                client.close().wait().unwrap();
            })
        })
        .collect();
    let consumed = Arc::new(Mutex::new(Vec::new()));
    let maybe = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let producing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let consumers: Vec<(Client, _)> = (0..4)
        .map(|_| {
            let client = ctx.another::<A>();
            let (consumed, maybe, done) = (consumed.clone(), maybe.clone(), done.clone());
            let producing = producing.clone();
            let q = client.locking_queue("/lq");
            let t = thread::spawn(move || {
                let mut refused = 0;
                loop {
                    let item = match q.get_timeout(Duration::from_millis(200)).wait() {
                        Ok(Some(item)) => item,
                        // Until the producers are done and the queue is empty.
                        Ok(None) if producing.load(Ordering::SeqCst) => continue,
                        Ok(None) => match q.len().wait() {
                            Ok(0) => break,
                            _ => continue,
                        },
                        // The expired session: the client starts a new one.
                        Err(Error::SessionExpired | Error::ConnectionLoss) => continue,
                        Err(e) => panic!("get: {e}"),
                    };
                    match q.consume().wait() {
                        Ok(true) => {
                            consumed.lock().unwrap().push(item);
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(false) => refused += 1,
                        // In flight when the session expired, and gone:
                        // ours, or another consumer's since.
                        Err(Error::Recipe(RecipeError::UnknownOutcome(_))) => {
                            maybe.lock().unwrap().push(item);
                        }
                        Err(e) => panic!("consume: {e}"),
                    }
                }
                refused
            });
            (client, t)
        })
        .collect();
    while done.load(Ordering::SeqCst) < total / 3 {
        thread::sleep(Duration::from_millis(5));
    }
    expire(&ctx, &consumers[0].0);
    for p in producers {
        p.join().unwrap();
    }
    producing.store(false, Ordering::SeqCst);
    for (client, t) in consumers {
        t.join().unwrap();
        client.close().wait().unwrap();
    }
    let consumed = consumed.lock().unwrap();
    let unique: BTreeSet<_> = consumed.iter().collect();
    assert_eq!(unique.len(), consumed.len(), "consumed more than once");
    // An unknown outcome was ours unless another consumer consumed it.
    let mut all = unique.clone();
    let maybe = maybe.lock().unwrap();
    all.extend(maybe.iter());
    assert_eq!(all.len(), total, "items lost");
    let q = ctx.client.locking_queue("/lq");
    assert_eq!(q.len().wait().unwrap(), 0);
    assert!(children(&ctx.client, "/lq/taken").is_empty());
}
