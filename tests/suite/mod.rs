//! The integration suite, written once against [`Client`] and run on every
//! adapter: `tests/<adapter>_client.rs` implements [`Adapter`] and expands
//! [`integration_tests!`]. Everything here talks to a real ZooKeeper
//! started by `kazoo_testing` (one server per test binary); each test works
//! under a chroot of its own.

#![allow(dead_code, clippy::disallowed_methods)]

pub mod adapters;
pub mod behaviour;
pub mod caches;
pub mod failures;
pub mod groups;
pub mod ops;
pub mod queues;
pub mod recipes;
pub mod watches;

use std::time::Duration;

use kazoo::session::Config;
use kazoo::Client;
use kazoo_testing::ZkServer;

/// How a test binary makes clients.
pub trait Adapter {
    /// Starts a client with `config` (the adapter's `start`).
    fn start(config: Config) -> Client;

    /// The adapter's `connect`: waits for the session, at most the
    /// config's connect timeout.
    fn connect(config: Config) -> Result<Client, kazoo::Error>;

    /// The server the suite runs against: the embedded one by default (no
    /// Java needed), the real one when `KAZOO_TEST_BACKEND=real` (as
    /// `scripts/test.sh` sets it).
    fn backend() -> Backend {
        Backend::from_env()
    }
}

/// A real ZooKeeper from the test kit, or the embedded server.
#[derive(Clone, Copy)]
pub enum Backend {
    Java(&'static ZkServer),
    Embedded(&'static kazoo_server::EmbeddedServer),
}

impl Backend {
    /// `KAZOO_TEST_BACKEND=real`: the test kit's ZooKeeper; otherwise
    /// the embedded server.
    pub fn from_env() -> Backend {
        match std::env::var("KAZOO_TEST_BACKEND").as_deref() {
            Ok("real") => Backend::Java(
                ZkServer::shared()
                    .expect("a ZooKeeper server (run scripts/test.sh to install one)"),
            ),
            _ => Backend::embedded(),
        }
    }

    /// One embedded server per test binary.
    pub fn embedded() -> Backend {
        static SERVER: std::sync::OnceLock<kazoo_server::EmbeddedServer> =
            std::sync::OnceLock::new();
        Backend::Embedded(SERVER.get_or_init(|| {
            kazoo_server::EmbeddedServer::start(Default::default()).expect("an embedded server")
        }))
    }

    pub fn connect_string(&self) -> String {
        match self {
            Backend::Java(s) => s.connect_string(),
            Backend::Embedded(s) => s.connect_string(),
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        match self {
            Backend::Java(s) => s.addr(),
            Backend::Embedded(s) => s.addr(),
        }
    }

    /// A connect string for a fresh, empty chroot.
    pub fn chroot(&self, prefix: &str) -> String {
        kazoo_testing::fresh_chroot(self.addr(), &self.connect_string(), prefix)
            .expect("a fresh chroot")
    }
}

/// Polls a future on this thread until it is done (the client's futures
/// need no runtime; the adapter's threads or tasks drive the session).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Generous bound for anything the server should answer quickly.
pub const WAIT: Duration = Duration::from_secs(15);

/// A client under a fresh chroot of its own, plus what made it.
pub struct Ctx {
    pub client: Client,
    /// `host:port` of the server, without chroot.
    pub hosts: String,
    /// The chroot, e.g. `/suite-create_modes-3`.
    pub chroot: String,
    pub server: Backend,
}

impl Ctx {
    /// A connected client under `/suite-<name>-<n>`.
    pub fn new<A: Adapter>(name: &str) -> Ctx {
        Self::with(A::backend(), name, |_| {}, |c| A::start(c))
    }

    pub fn with(
        server: Backend,
        name: &str,
        tweak: impl Fn(&mut Config),
        start: impl Fn(Config) -> Client,
    ) -> Ctx {
        let hosts = server.connect_string();
        let connect = server.chroot(&format!("suite-{name}"));
        let chroot = connect[hosts.len()..].to_string();
        let mut config = Config::new(&connect).unwrap();
        tweak(&mut config);
        let client = start(config);
        client
            .wait_connected()
            .wait_timeout(WAIT)
            .expect("connected");
        Ctx {
            client,
            hosts,
            chroot,
            server,
        }
    }

    /// Another client on the same chroot.
    pub fn another<A: Adapter>(&self) -> Client {
        let client = A::start(Config::new(&format!("{}{}", self.hosts, self.chroot)).unwrap());
        client
            .wait_connected()
            .wait_timeout(WAIT)
            .expect("connected");
        client
    }

    /// A client at the server's root (no chroot).
    pub fn root<A: Adapter>(&self) -> Client {
        let client = A::start(Config::new(&self.hosts).unwrap());
        client
            .wait_connected()
            .wait_timeout(WAIT)
            .expect("connected");
        client
    }
}

/// Expands one `#[test]` per suite function for adapter `$adapter`.
#[allow(unused_macros)]
macro_rules! integration_tests {
    ($adapter:ty) => {
        $crate::suite::integration_tests!(@ $adapter;
            ops::create_modes_and_results,
            ops::create_failures,
            ops::plain_creates_work_where_create2_is_unknown,
            ops::sequential_numbers_increase_per_parent,
            ops::ensure_path_and_make_parents,
            ops::exists_get_set_with_versions,
            ops::null_data_is_not_empty_data,
            ops::children_with_and_without_stat,
            ops::delete_with_version_and_recursive,
            ops::acls_and_digest_auth,
            ops::default_acl_and_auth_at_connect,
            ops::transaction_commits_or_changes_nothing,
            ops::multi_read_reports_each_read,
            ops::sync_whoami_counts_and_ephemerals,
            ops::ephemerals_vanish_when_the_session_closes,
            ops::containers_and_ttl_nodes_are_swept,
            ops::data_near_the_size_limit,
            ops::reconfig_is_refused_by_a_standalone_server,
            ops::server_version_from_srvr,
            ops::bad_arguments_fail_before_sending,
            watches::one_shot_watches_fire_once_with_the_right_type,
            watches::watch_futures_and_failed_reads,
            watches::persistent_and_recursive_watches,
            watches::remove_watches_tells_the_watcher,
            watches::chroot_is_invisible_in_events_and_results,
            watches::callbacks_may_wait_on_other_requests,
            watches::a_client_leaves_no_watch_behind,
            behaviour::listeners_and_state_streams_see_every_state,
            behaviour::connect_waits_for_the_session_and_gives_up_in_time,
            behaviour::a_connection_policy_that_runs_out_closes_the_client,
            behaviour::set_hosts_moves_a_live_session,
            behaviour::a_request_past_its_own_timeout_fails_while_the_session_lives,
            behaviour::ten_thousand_requests_from_eight_threads,
            behaviour::wait_timeout_leaves_the_client_usable,
            behaviour::close_completes_everything_pending,
            behaviour::sleep_and_retry_use_the_session_clock,
            recipes::lock_excludes_times_out_and_hands_over,
            recipes::cancelled_and_dropped_acquires_leave_nothing,
            recipes::mutual_exclusion_under_contention,
            recipes::a_fenced_write_fails_once_the_lock_node_is_gone,
            recipes::an_expired_holder_is_told_and_the_next_gets_the_lock,
            recipes::a_flap_inside_the_timeout_keeps_the_lock,
            recipes::a_lost_create_reply_is_found_by_prefix_or_cleaned_up,
            recipes::a_holder_whose_session_is_replaced_is_told,
            recipes::contenders_are_ordered_across_the_sequence_wrap,
            recipes::a_waiter_rechecks_after_a_flap_that_hid_the_release,
            recipes::cleanup_gets_through_connection_loss,
            recipes::readers_share_and_writers_exclude,
            recipes::rwlock_exclusion_under_contention,
            recipes::semaphore_bounds_holders_and_checks_max_leases,
            recipes::semaphore_never_exceeds_its_leases,
            recipes::bad_recipe_arguments_fail_before_sending,
            recipes::election_runs_the_leader_and_lists_contenders,
            recipes::a_leader_latch_leads_steps_down_and_rejoins,
            recipes::a_leader_latch_keeps_leading_through_a_flap,
            recipes::leases_are_taken_renewed_and_refused,
            groups::counters_add_in_kazoos_encodings,
            groups::eight_clients_count_exactly,
            groups::a_counter_at_the_version_wrap_refuses,
            groups::a_barrier_holds_until_removed,
            groups::a_barrier_wait_survives_a_flap_that_hid_the_removal,
            groups::double_barrier_enters_and_leaves_together,
            groups::double_barrier_timeouts_and_bad_parents,
            groups::double_barrier_enter_survives_a_flap,
            groups::parties_list_members_in_kazoos_layout,
            groups::a_party_member_rejoins_after_its_session_is_lost,
            groups::set_partitioner_splits_and_reallocates,
            queues::queue_serves_by_priority_then_arrival,
            queues::locking_queue_locks_consumes_and_releases,
            queues::locking_queue_consumes_each_item_once_across_an_expiry,
            caches::data_watch_reports_every_change,
            caches::watches_deliver_what_changed_while_cut_off,
            caches::children_watch_lists_until_the_node_goes,
            caches::patient_children_watch_waits_for_quiet,
            caches::tree_cache_loads_follows_and_closes,
            caches::tree_cache_waits_for_its_root,
            caches::tree_cache_events_are_bounded_for_a_slow_reader,
            caches::tree_cache_resyncs_after_a_cut,
            caches::tree_cache_reports_a_cut_while_following,
            caches::tree_cache_reports_a_cut_while_reloading,
            caches::tree_cache_follows_random_churn_through_cuts,
        );
    };
    (@ $adapter:ty; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::suite::$module::$name::<$adapter>();
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use integration_tests;

/// Expands one `#[test]` per failure-semantics function for `$adapter`
/// (a separate binary: these start an ensemble and cut connections).
#[allow(unused_macros)]
macro_rules! failure_tests {
    ($adapter:ty) => {
        $crate::suite::integration_tests!(@ $adapter;
            failures::dropped_connection_resumes_the_session_and_catches_up,
            failures::a_session_handed_to_another_client_is_resumed_not_new,
            failures::stalled_connection_hits_the_read_timeout,
            failures::real_expiry_is_lost_then_a_new_session,
            failures::failover_keeps_the_session_and_every_acknowledged_write,
            failures::ensemble_down_longer_than_the_timeout_is_lost_on_the_client_clock,
            failures::unreachable_hosts_fail_with_a_clear_error_without_spinning,
            failures::close_during_a_reconnect_storm_completes_everything,
            failures::bad_servers_are_skipped,
            failures::a_server_that_stops_reading_meets_backpressure,
            failures::tree_cache_stays_consistent_while_members_die,
        );
    };
}
#[allow(unused_imports)]
pub(crate) use failure_tests;
