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
