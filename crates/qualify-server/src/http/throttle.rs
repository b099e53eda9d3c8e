//! Throttling per partner tenant (api.md section 5): a token bucket of N requests per minute.
//! Limits are per instance; see docs/deployment.md for how they add up across instances.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use qualify_core::PartnerId;

use crate::http::error::ApiError;

pub struct Throttle {
    limiter: Option<DefaultKeyedRateLimiter<PartnerId>>,
    clock: DefaultClock,
}

impl Throttle {
    /// `per_minute == 0` turns throttling off.
    pub fn per_minute(per_minute: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    pub fn check(&self, partner: PartnerId) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&partner).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError::throttled(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }

    /// Forgets partners whose buckets are full again (bounded memory).
    pub fn housekeep(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_n_plus_first_request_in_a_minute_is_throttled_with_retry_after() {
        let t = Throttle::per_minute(3);
        let p = PartnerId(uuid::Uuid::from_u128(7));
        for _ in 0..3 {
            t.check(p).unwrap();
        }
        let e = t.check(p).unwrap_err();
        assert_eq!(e.kind().status(), 429);
        let secs = e.retry_after.unwrap();
        assert!((1..=60).contains(&secs), "{secs}");
        // Another partner has its own budget.
        t.check(PartnerId(uuid::Uuid::from_u128(8))).unwrap();
    }

    #[test]
    fn zero_turns_throttling_off() {
        let t = Throttle::per_minute(0);
        let p = PartnerId(uuid::Uuid::from_u128(7));
        for _ in 0..10_000 {
            t.check(p).unwrap();
        }
    }
}
