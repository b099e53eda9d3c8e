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

// ---- the virtual clock (control.md 4) ---------------------------------------------------------

/// A scope's own clock: the global one, or a partner tenant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSetting {
    /// Time stands still at this instant.
    Frozen(OffsetDateTime),
    /// Time runs at real pace, this many milliseconds from wall time.
    Running { offset_ms: i64 },
}

impl ClockSetting {
    /// The scope's time at wall time `wall`, held within the instants qualify keeps
    /// ([`crate::time_fmt::EARLIEST`] to [`crate::time_fmt::LATEST`]): a running clock that
    /// reaches `LATEST` (resumed at it, or shortly before) stays there, still `running`, so
    /// every time it stamps can be written to a snapshot and restored. Whatever the offset (a
    /// fixture's, a stored row's), this never overflows.
    pub fn now(&self, wall: OffsetDateTime) -> OffsetDateTime {
        use crate::time_fmt::{EARLIEST, LATEST};
        let t = match *self {
            ClockSetting::Frozen(at) => at,
            ClockSetting::Running { offset_ms } => wall
                .checked_add(time::Duration::milliseconds(offset_ms))
                .unwrap_or(if offset_ms < 0 { EARLIEST } else { LATEST }),
        };
        t.clamp(EARLIEST, LATEST)
    }

    /// `frozen` or `running`, as the API names the mode.
    pub fn mode(&self) -> &'static str {
        match self {
            ClockSetting::Frozen(_) => "frozen",
            ClockSetting::Running { .. } => "running",
        }
    }
}

/// The clocks that decide a partner tenant's domain time: its own, else the global one, else
/// wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartnerClocks {
    pub global: Option<ClockSetting>,
    pub own: Option<ClockSetting>,
}

impl PartnerClocks {
    /// The partner's domain time at wall time `wall`.
    pub fn now(&self, wall: OffsetDateTime) -> OffsetDateTime {
        self.own.or(self.global).map_or(wall, |c| c.now(wall))
    }
}

/// A change of one scope's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockChange {
    /// `PUT .../clock {"frozenAt": T}`.
    Freeze(OffsetDateTime),
    /// `POST .../clock/advance {"by": d}`.
    AdvanceBy(std::time::Duration),
    /// `POST .../clock/advance {"to": T}`.
    AdvanceTo(OffsetDateTime),
    /// `POST .../clock/resume`.
    Resume,
    /// `DELETE .../clock`.
    Remove,
}

/// What a clock change does: the scope's own clock after it, and its time before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockPlan {
    pub setting: Option<ClockSetting>,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
}

/// The rules of control.md 4. `own` is the scope's own clock, `inherited` the time the scope
/// follows without one (the global clock's, or wall time). Once a scope has a clock of its own,
/// time never goes back (409); removing the clock is the one way back.
pub fn plan_clock(
    own: Option<ClockSetting>,
    inherited: OffsetDateTime,
    wall: OffsetDateTime,
    change: ClockChange,
) -> Result<ClockPlan, crate::DomainError> {
    use crate::time_fmt::{truncate_millis, wire};
    let from = own.map_or(inherited, |c| c.now(wall));
    let back = |to: OffsetDateTime| {
        crate::DomainError::new(
            crate::ErrorKind::ClockWentBack,
            format!(
                "The clock is at {} and never goes back; {} is earlier (DELETE the clock to return to real time).",
                wire(from),
                wire(to)
            ),
        )
    };
    let beyond = |why: String| crate::DomainError::new(crate::ErrorKind::InvalidInput, why);
    let forward_to = |to: OffsetDateTime| -> Result<ClockPlan, crate::DomainError> {
        let to = truncate_millis(to);
        if to < from {
            return Err(back(to));
        }
        if let Some(why) = crate::time_fmt::out_of_range(to) {
            return Err(beyond(why));
        }
        let setting = match own {
            // `to` from now on: the same as moving the offset by `to - from`, and right too
            // when `from` was held at a bound.
            Some(ClockSetting::Running { .. }) => ClockSetting::Running {
                offset_ms: (to - wall).whole_milliseconds() as i64,
            },
            _ => ClockSetting::Frozen(to),
        };
        Ok(ClockPlan {
            setting: Some(setting),
            from,
            to,
        })
    };
    match change {
        ClockChange::Freeze(at) => {
            let at = truncate_millis(at);
            if own.is_some() && at < from {
                return Err(back(at));
            }
            if let Some(why) = crate::time_fmt::out_of_range(at) {
                return Err(beyond(why));
            }
            Ok(ClockPlan {
                setting: Some(ClockSetting::Frozen(at)),
                from,
                to: at,
            })
        }
        ClockChange::AdvanceBy(by) => match crate::time_fmt::too_long(by) {
            Some(why) => Err(beyond(format!("The advance {why}"))),
            None => forward_to(from + by),
        },
        ClockChange::AdvanceTo(at) => forward_to(at),
        ClockChange::Resume => Ok(ClockPlan {
            setting: Some(match own {
                Some(running @ ClockSetting::Running { .. }) => running,
                _ => ClockSetting::Running {
                    offset_ms: (from - wall).whole_milliseconds() as i64,
                },
            }),
            from,
            to: from,
        }),
        ClockChange::Remove => Ok(ClockPlan {
            setting: None,
            from,
            to: inherited,
        }),
    }
}

#[cfg(test)]
mod virtual_clock_tests {
    use super::*;
    use crate::time_fmt::from_millis;
    use std::time::Duration;

    const WALL: i64 = 1_000_000;

    fn wall() -> OffsetDateTime {
        from_millis(WALL)
    }

    #[test]
    fn a_partner_follows_its_own_clock_else_the_global_one_else_wall_time() {
        let frozen = ClockSetting::Frozen(from_millis(5));
        let running = ClockSetting::Running { offset_ms: -1_000 };
        assert_eq!(PartnerClocks::default().now(wall()), wall());
        let global = PartnerClocks {
            global: Some(frozen),
            own: None,
        };
        assert_eq!(global.now(wall()), from_millis(5));
        let own = PartnerClocks {
            global: Some(frozen),
            own: Some(running),
        };
        assert_eq!(own.now(wall()), from_millis(WALL - 1_000));
    }

    #[test]
    fn a_scope_without_a_clock_may_freeze_anywhere_and_then_never_goes_back() {
        let past = from_millis(10);
        let plan = plan_clock(None, wall(), wall(), ClockChange::Freeze(past)).unwrap();
        assert_eq!(plan.setting, Some(ClockSetting::Frozen(past)));
        let own = plan.setting;
        let e = plan_clock(own, wall(), wall(), ClockChange::Freeze(from_millis(9))).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::ClockWentBack);
        let e =
            plan_clock(own, wall(), wall(), ClockChange::AdvanceTo(from_millis(9))).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::ClockWentBack);
        // The same instant is not going back.
        assert!(plan_clock(own, wall(), wall(), ClockChange::Freeze(past)).is_ok());
        assert_eq!(
            plan_clock(own, wall(), wall(), ClockChange::Remove).unwrap(),
            ClockPlan {
                setting: None,
                from: past,
                to: wall()
            }
        );
    }

    #[test]
    fn advance_freezes_a_scope_without_a_clock_and_keeps_a_running_one_running() {
        let plan = plan_clock(
            None,
            wall(),
            wall(),
            ClockChange::AdvanceBy(Duration::from_secs(2)),
        )
        .unwrap();
        assert_eq!(
            (plan.from, plan.to, plan.setting),
            (
                wall(),
                from_millis(WALL + 2_000),
                Some(ClockSetting::Frozen(from_millis(WALL + 2_000)))
            )
        );
        let running = Some(ClockSetting::Running { offset_ms: 500 });
        let plan = plan_clock(
            running,
            wall(),
            wall(),
            ClockChange::AdvanceBy(Duration::from_secs(1)),
        )
        .unwrap();
        assert_eq!(
            plan.setting,
            Some(ClockSetting::Running { offset_ms: 1_500 })
        );
        assert_eq!(plan.to, from_millis(WALL + 1_500));
    }

    #[test]
    fn resume_runs_on_from_the_frozen_instant() {
        let frozen = Some(ClockSetting::Frozen(from_millis(WALL - 300)));
        let plan = plan_clock(frozen, wall(), wall(), ClockChange::Resume).unwrap();
        assert_eq!(
            plan.setting,
            Some(ClockSetting::Running { offset_ms: -300 })
        );
        let later = from_millis(WALL + 10_000);
        assert_eq!(
            plan.setting.unwrap().now(later),
            from_millis(WALL + 10_000 - 300)
        );
    }

    /// Whether `t` survives a fixture document: written as control documents write instants,
    /// read back as they read them (RFC 3339, within [`crate::time_fmt::out_of_range`]).
    fn restorable(t: OffsetDateTime) -> bool {
        use time::format_description::well_known::Rfc3339;
        let written = crate::time_fmt::wire_millis(t);
        OffsetDateTime::parse(&written, &Rfc3339).is_ok_and(|read| {
            read == t
                && crate::time_fmt::out_of_range(crate::time_fmt::truncate_millis(read)).is_none()
        })
    }

    #[test]
    fn a_clock_resumed_at_the_latest_instant_never_runs_past_it() {
        use crate::time_fmt::LATEST;
        use time::macros::datetime;
        let wall = datetime!(2026-06-01 12:00 UTC);
        let freeze = ClockChange::Freeze(datetime!(8999-12-31 23:59:59 UTC));
        let frozen = plan_clock(None, wall, wall, freeze).unwrap().setting;
        let at_bound = plan_clock(frozen, wall, wall, ClockChange::AdvanceTo(LATEST))
            .unwrap()
            .setting;
        assert_eq!(at_bound, Some(ClockSetting::Frozen(LATEST)));
        let resumed = plan_clock(at_bound, wall, wall, ClockChange::Resume).unwrap();
        assert_eq!((resumed.from, resumed.to), (LATEST, LATEST));
        let running = resumed.setting.unwrap();
        assert_eq!(running.mode(), "running");
        for later in [
            wall,
            wall + time::Duration::MILLISECOND,
            wall + time::Duration::hours(1),
            wall + time::Duration::days(365 * 50),
        ] {
            let now = running.now(later);
            assert_eq!(now, LATEST, "at wall time {later}");
            assert!(restorable(now), "{now} cannot be restored");
            let clocks = PartnerClocks {
                global: None,
                own: Some(running),
            };
            assert!(restorable(clocks.now(later)));
        }
        // It stays at the bound: no advance passes it, and time does not go back.
        let later = wall + time::Duration::hours(1);
        let own = Some(running);
        assert!(plan_clock(own, wall, later, ClockChange::AdvanceTo(LATEST)).is_ok());
        assert_eq!(
            plan_clock(
                own,
                wall,
                later,
                ClockChange::AdvanceBy(Duration::from_secs(1))
            )
            .unwrap_err()
            .kind,
            crate::ErrorKind::InvalidInput
        );
        assert!(plan_clock(own, wall, later, ClockChange::Freeze(LATEST)).is_ok());
    }

    #[test]
    fn a_running_clock_reports_only_instants_qualify_keeps_whatever_its_offset() {
        use crate::time_fmt::{EARLIEST, LATEST};
        let wall = from_millis(1_780_000_000_000);
        // Offsets a fixture or a stored row may carry; none overflows or leaves the range.
        for (offset_ms, expected) in [
            (i64::MAX, LATEST),
            (i64::MIN, EARLIEST),
            (300_000_000_000_000, LATEST),
            (-100_000_000_000_000, EARLIEST),
            (0, wall),
        ] {
            let now = ClockSetting::Running { offset_ms }.now(wall);
            assert_eq!(now, expected, "offset {offset_ms}");
            assert!(restorable(now));
        }
        // An advance of a clock held at the earliest instant moves it by the advance.
        let held = Some(ClockSetting::Running {
            offset_ms: -100_000_000_000_000,
        });
        let plan = plan_clock(
            held,
            wall,
            wall,
            ClockChange::AdvanceBy(Duration::from_secs(3_600)),
        )
        .unwrap();
        assert_eq!(plan.to, EARLIEST + time::Duration::hours(1));
        assert_eq!(plan.setting.unwrap().now(wall), plan.to);
    }

    #[test]
    fn no_change_takes_a_clock_beyond_the_instants_qualify_keeps() {
        use crate::time_fmt::{LATEST, LONGEST};
        let invalid = |r: Result<ClockPlan, crate::DomainError>| r.unwrap_err().kind;
        let at_latest = Some(ClockSetting::Frozen(LATEST));
        assert_eq!(
            invalid(plan_clock(
                at_latest,
                wall(),
                wall(),
                ClockChange::AdvanceBy(Duration::from_secs(1))
            )),
            crate::ErrorKind::InvalidInput
        );
        assert_eq!(
            invalid(plan_clock(
                None,
                wall(),
                wall(),
                ClockChange::Freeze(LATEST + time::Duration::SECOND)
            )),
            crate::ErrorKind::InvalidInput
        );
        // Far beyond: refused, never an overflow.
        assert_eq!(
            invalid(plan_clock(
                at_latest,
                wall(),
                wall(),
                ClockChange::AdvanceBy(Duration::from_secs(u64::MAX))
            )),
            crate::ErrorKind::InvalidInput
        );
        assert!(plan_clock(None, wall(), wall(), ClockChange::AdvanceBy(LONGEST)).is_ok());
        assert!(plan_clock(None, wall(), wall(), ClockChange::Freeze(LATEST)).is_ok());
    }
}
