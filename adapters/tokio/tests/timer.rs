//! The session's deadlines fire on a runtime where nothing else wakes the
//! driver task: on Linux they come from a timer file in the runtime's poll,
//! not from a tokio timer (kazoo_std::DeadlineTimer). An idle session
//! pings, and outlives its timeout. Against a real server.

use std::time::Duration;

use kazoo::session::{Config, SessionState};
use kazoo_testing::ZkServer;

#[test]
fn an_idle_session_pings_and_stays() {
    let server = ZkServer::shared().expect("a ZooKeeper server");
    let hosts = server.chroot("tokio-timer").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // The shared server's least (two 2 s ticks): a ping every 1.33 s.
        let timeout = Duration::from_secs(4);
        let config = Config::builder(&hosts)
            .session_timeout(timeout)
            .build()
            .unwrap();
        let c = kazoo_tokio::connect(config).await.unwrap();
        let id = c.session_id();
        let pings = c.stats().pings_sent;
        // The test's only timer: the runtime sleeps through it unless the
        // session's own deadlines wake it.
        tokio::time::sleep(timeout * 3 / 2).await;
        let sent = c.stats().pings_sent - pings;
        assert!(sent >= 3, "{sent} pings in 1.5 session timeouts");
        assert!(
            matches!(c.state(), Some(SessionState::Connected { .. })),
            "{:?}",
            c.state()
        );
        c.exists("/").send().await.unwrap();
        assert_eq!(c.session_id(), id, "the same session, never expired");
    });
}
