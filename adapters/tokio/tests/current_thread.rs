//! kazoo-tokio on a current-thread runtime, against a real server: every
//! task of the client shares the one thread that also runs the test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kazoo::proto::EventType;
use kazoo_testing::ZkServer;

#[test]
fn everything_on_one_runtime_thread() {
    let server = ZkServer::shared().expect("a ZooKeeper server");
    let hosts = server.chroot("tokio-current-thread").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let c = kazoo_tokio::connect(&hosts).await.unwrap();
        c.create("/a").data("x").send().await.unwrap();
        let (data, stat) = c.get("/a").send().await.unwrap();
        assert_eq!((data.as_deref(), stat.version), (Some(&b"x"[..]), 0));

        // A one-shot watch as a future.
        let (read, changed) = c.get("/a").send_watched();
        read.await.unwrap();
        c.set("/a", "y").send().await.unwrap();
        let event = changed.await.unwrap();
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (EventType::NodeDataChanged, "/a")
        );

        // A callback that blocks on another request runs off the runtime thread.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let inner = c.clone();
        c.get("/a")
            .watch(move |_| {
                let read = inner.get("/a").send().wait_timeout(Duration::from_secs(10));
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(read.map(|(d, _)| d));
                }
            })
            .send()
            .await
            .unwrap();
        c.set("/a", "z").send().await.unwrap();
        assert_eq!(rx.await.unwrap(), Ok(Some(kazoo::Bytes::from("z"))));

        // Requests made on the runtime wait for the task to yield, then go
        // out together (a thread outside the runtime writes at once).
        let small: Vec<_> = (0..10).map(|_| c.exists("/a").send()).collect();
        assert!(c.stats().write_buffered > 0, "held until this task yields");
        for exists in small {
            assert!(exists.await.unwrap().is_some());
        }
        assert_eq!(c.stats().write_buffered, 0, "written once it yielded");

        // A burst bigger than the socket takes at once (4 MiB): the rest
        // waits for it to be writable.
        let data = kazoo::Bytes::from(vec![b'b'; 2048]);
        let sets: Vec<_> = (0..2048)
            .map(|_| c.set("/a", data.clone()).send())
            .collect();
        let mut last = None;
        for set in sets {
            last = Some(set.await.unwrap().version);
        }
        assert_eq!(last, Some(2050), "every set of the burst, in order");

        // Waiting on the session's timers, and a multi-step task.
        c.sleep(Duration::from_millis(50)).await.unwrap();
        c.ensure_path("/deep/er/path").await.unwrap();
        c.delete("/deep").recursive().send().await.unwrap();
        assert_eq!(c.exists("/deep").send().await, Ok(None));
        c.close().await.unwrap();
        assert_eq!(
            c.get("/a").send().await.map(drop),
            Err(kazoo::Error::Closed)
        );
    });
}

#[test]
fn connect_reports_a_closed_client() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let c = kazoo_tokio::start(
            &tokio::runtime::Handle::current(),
            kazoo::session::Config::new("127.0.0.1:1").unwrap(),
        );
        let connected = c.wait_connected();
        drop(c.close());
        assert_eq!(connected.await, Err(kazoo::Error::Closed));
    });
}
