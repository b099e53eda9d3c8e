//! The one place time is read. Handlers, rules and storage receive times from a `Clock`, never
//! from `now()` of their own, so that a virtual clock can replace it.

use time::OffsetDateTime;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// Wall-clock time, truncated to milliseconds (the precision the stores keep).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        crate::time_fmt::truncate_millis(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to: tests inject it to control time.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(at: OffsetDateTime) -> Self {
        Self(std::sync::Mutex::new(crate::time_fmt::truncate_millis(at)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.lock() = crate::time_fmt::truncate_millis(at);
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.lock();
        *now = crate::time_fmt::truncate_millis(*now + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let t0 = crate::time_fmt::from_millis(1_000);
        let c = ManualClock::new(t0);
        assert_eq!(c.now(), t0);
        c.advance(std::time::Duration::from_millis(1_500));
        assert_eq!(c.now(), crate::time_fmt::from_millis(2_500));
        c.set(t0);
        assert_eq!(c.now(), t0);
    }
}
