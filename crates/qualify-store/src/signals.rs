//! What a commit tells the rest of the process: a transition for the event stream, work for the
//! job worker, a change of the fault list. The store notifies after a commit whose effects
//! call for it (`Effect::signals`), never from a call site; on PostgreSQL other instances'
//! commits arrive by LISTEN/NOTIFY too. Each signal is a counter on a `watch` channel: every
//! subscriber sees that something changed since it last looked, and none is missed.

use qualify_core::effects::Signals;
use tokio::sync::watch;

pub struct StoreSignals {
    transitions: watch::Sender<u64>,
    jobs: watch::Sender<u64>,
    faults: watch::Sender<u64>,
}

impl Default for StoreSignals {
    fn default() -> Self {
        Self {
            transitions: watch::Sender::new(0),
            jobs: watch::Sender::new(0),
            faults: watch::Sender::new(0),
        }
    }
}

impl std::fmt::Debug for StoreSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSignals").finish_non_exhaustive()
    }
}

impl StoreSignals {
    /// Notified after a transition (an audit event) committed.
    pub fn transitions(&self) -> watch::Receiver<u64> {
        self.transitions.subscribe()
    }

    /// Notified after a job was enqueued or became due again, or a clock moved.
    pub fn jobs(&self) -> watch::Receiver<u64> {
        self.jobs.subscribe()
    }

    /// Notified after the fault list changed.
    pub fn faults(&self) -> watch::Receiver<u64> {
        self.faults.subscribe()
    }

    /// Tells the subscribers of each signal in `signals`.
    pub fn notify(&self, signals: Signals) {
        let bump = |s: &watch::Sender<u64>| s.send_modify(|n| *n = n.wrapping_add(1));
        if signals.contains(Signals::TRANSITIONS) {
            bump(&self.transitions);
        }
        if signals.contains(Signals::JOBS) {
            bump(&self.jobs);
        }
        if signals.contains(Signals::FAULTS) {
            bump(&self.faults);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_hears_of_a_signal_after_it_subscribed() {
        let s = StoreSignals::default();
        let (mut a, mut b, f) = (s.jobs(), s.jobs(), s.faults());
        s.notify(Signals::JOBS | Signals::TRANSITIONS);
        assert!(a.has_changed().unwrap() && b.has_changed().unwrap());
        assert!(!f.has_changed().unwrap());
        a.changed().await.unwrap();
        b.changed().await.unwrap();
        s.notify(Signals::FAULTS);
        assert!(f.has_changed().unwrap() && !a.has_changed().unwrap());
    }
}
