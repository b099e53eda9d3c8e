//! What the store lets the server observe of its commits without depending on it: one hook per
//! process, set once by the server's metrics (the store has no telemetry of its own and names
//! no metric). Without a hook a commit costs no clock read.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Told of every committed transaction: how many write requests it carried (the SQLite
/// writer's group commit; 1 on PostgreSQL) and how long its `COMMIT` took.
pub type CommitObserver = fn(batch: usize, took: Duration);

static COMMIT_OBSERVER: OnceLock<CommitObserver> = OnceLock::new();

/// Sets the process's commit observer; `false` when one was set already (it stays).
pub fn observe_commits(observer: CommitObserver) -> bool {
    COMMIT_OBSERVER.set(observer).is_ok()
}

/// Times one commit for the observer (nothing when there is none).
pub(crate) struct CommitTimer(Option<(CommitObserver, Instant)>);

impl CommitTimer {
    pub(crate) fn start() -> Self {
        Self(COMMIT_OBSERVER.get().map(|f| (*f, Instant::now())))
    }

    /// The commit of `batch` write requests succeeded.
    pub(crate) fn committed(self, batch: usize) {
        if let Some((observer, started)) = self.0 {
            observer(batch, started.elapsed());
        }
    }
}
