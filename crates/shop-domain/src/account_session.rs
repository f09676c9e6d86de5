//! A signed-in session's lifetime: it ends [`IDLE_SECONDS`] after it was last used, and
//! [`ABSOLUTE_SECONDS`] after it began however much it is used. The store keeps a
//! [`SessionRecord`] per session (under a hash of the token) with a time to live; this module
//! decides, from the record and the time, whether the session is still on, when the record must
//! be refreshed and for how long it is kept.
//!
//! Times are whole seconds since the Unix epoch, supplied by the caller.

use crate::account::AccountId;

/// A session unused this long has ended (7 days).
pub const IDLE_SECONDS: i64 = 7 * 24 * 60 * 60;
/// A session ends this long after it began, however much it is used (30 days).
pub const ABSOLUTE_SECONDS: i64 = 30 * 24 * 60 * 60;
/// Using a session moves its idle expiry at most this often (one write a minute, not one a request).
pub const TOUCH_EVERY_SECONDS: i64 = 60;

/// What the store keeps about one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The signed-in account.
    pub account_id: AccountId,
    /// When the session began.
    pub created_at: i64,
    /// When it was last used (or its use last recorded).
    pub last_seen: i64,
}

/// What a session is, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// On. When `touch` is set, the caller records the use: `last_seen` becomes now and the
    /// record is kept for `ttl_seconds` more.
    Active {
        /// Whether to write the record again now.
        touch: bool,
        /// How long the store keeps the record from now.
        ttl_seconds: i64,
    },
    /// Ended (idle or too old): the caller deletes the record and answers as signed out.
    Ended,
}

impl SessionRecord {
    /// A session that begins at `now`.
    pub fn begin(account_id: AccountId, now: i64) -> Self {
        SessionRecord { account_id, created_at: now, last_seen: now }
    }

    /// How long the store keeps the record from `now`: until its idle expiry, but never past
    /// its absolute one (so the store forgets it by itself, whether or not it is read again).
    pub fn ttl_seconds(&self, now: i64) -> i64 {
        let idle_end = self.last_seen.saturating_add(IDLE_SECONDS);
        let absolute_end = self.created_at.saturating_add(ABSOLUTE_SECONDS);
        idle_end.min(absolute_end).saturating_sub(now)
    }

    /// Whether the session is on at `now`, and whether to record its use.
    pub fn state(&self, now: i64) -> SessionState {
        let touched = SessionRecord { last_seen: now, ..self.clone() };
        if self.ttl_seconds(now) <= 0 || touched.ttl_seconds(now) <= 0 {
            return SessionState::Ended;
        }
        // A clock that went back counts as a use now: never extend past what the record says.
        let since = now.saturating_sub(self.last_seen);
        if since >= TOUCH_EVERY_SECONDS {
            SessionState::Active { touch: true, ttl_seconds: touched.ttl_seconds(now) }
        } else {
            SessionState::Active { touch: false, ttl_seconds: self.ttl_seconds(now) }
        }
    }

    /// The record as the store keeps it: `v1 <account id> <created> <last seen>`.
    pub fn encode(&self) -> String {
        format!("v1 {} {} {}", self.account_id, self.created_at, self.last_seen)
    }

    /// Reads a stored record; `None` for anything else (the caller treats it as ended).
    pub fn decode(stored: &str) -> Option<Self> {
        let mut parts = stored.split(' ');
        let (Some("v1"), Some(id), Some(created), Some(seen), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let account_id = AccountId::parse(id).ok().filter(|a| a.as_str() == id)?;
        Some(SessionRecord { account_id, created_at: created.parse().ok()?, last_seen: seen.parse().ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;
    const DAY: i64 = 24 * 60 * 60;

    fn account() -> AccountId {
        AccountId::from_random([7; 16])
    }

    #[test]
    fn a_new_session_lives_for_the_idle_time() {
        let s = SessionRecord::begin(account(), T0);
        assert_eq!(s.ttl_seconds(T0), IDLE_SECONDS);
        assert_eq!(s.state(T0), SessionState::Active { touch: false, ttl_seconds: IDLE_SECONDS });
    }

    #[test]
    fn use_is_recorded_at_most_once_a_minute() {
        let s = SessionRecord::begin(account(), T0);
        assert_eq!(s.state(T0 + 59), SessionState::Active { touch: false, ttl_seconds: IDLE_SECONDS - 59 });
        assert_eq!(s.state(T0 + 60), SessionState::Active { touch: true, ttl_seconds: IDLE_SECONDS });
    }

    #[test]
    fn an_idle_session_ends() {
        let s = SessionRecord::begin(account(), T0);
        assert!(matches!(s.state(T0 + IDLE_SECONDS - 1), SessionState::Active { touch: true, .. }));
        assert_eq!(s.state(T0 + IDLE_SECONDS), SessionState::Ended);
        assert_eq!(s.state(T0 + 100 * DAY), SessionState::Ended);
    }

    #[test]
    fn a_used_session_still_ends_30_days_after_it_began() {
        let mut s = SessionRecord::begin(account(), T0);
        // Used every day: the idle expiry keeps moving, the absolute one does not.
        for day in 1..30 {
            let now = T0 + day * DAY;
            match s.state(now) {
                SessionState::Active { touch: true, ttl_seconds } => {
                    assert_eq!(ttl_seconds, IDLE_SECONDS.min(ABSOLUTE_SECONDS - day * DAY), "day {day}");
                    s.last_seen = now;
                }
                other => panic!("day {day}: {other:?}"),
            }
        }
        assert_eq!(s.ttl_seconds(T0 + 29 * DAY), DAY, "the store forgets it at the absolute expiry");
        assert!(matches!(s.state(T0 + ABSOLUTE_SECONDS - 1), SessionState::Active { .. }));
        assert_eq!(s.state(T0 + ABSOLUTE_SECONDS), SessionState::Ended);
    }

    #[test]
    fn a_clock_that_goes_back_extends_nothing() {
        let s = SessionRecord::begin(account(), T0);
        assert_eq!(s.state(T0 - 10), SessionState::Active { touch: false, ttl_seconds: IDLE_SECONDS + 10 });
        // Seen "later" than now, but begun 30 days before: the absolute end still holds.
        let old = SessionRecord { created_at: T0 - ABSOLUTE_SECONDS, last_seen: T0 + 10, ..s };
        assert_eq!(old.state(T0 - 1), SessionState::Active { touch: false, ttl_seconds: 1 });
        assert_eq!(old.state(T0), SessionState::Ended);
    }

    #[test]
    fn records_round_trip_and_garbage_is_refused() {
        let s = SessionRecord { account_id: account(), created_at: T0, last_seen: T0 + 5 };
        let text = s.encode();
        assert_eq!(text, format!("v1 {} {T0} {}", "07".repeat(16), T0 + 5));
        assert_eq!(SessionRecord::decode(&text), Some(s));
        for bad in [
            String::new(),
            "v2 0707 1 2".into(),
            format!("v1 {} {T0}", "07".repeat(16)),
            format!("v1 {} {T0} {T0} extra", "07".repeat(16)),
            format!("v1 {} x {T0}", "07".repeat(16)),
            format!("v1 {} {T0} {T0}", "AB".repeat(16)),
            format!("v1  {} {T0} {T0}", "07".repeat(16)),
        ] {
            assert_eq!(SessionRecord::decode(&bad), None, "{bad:?}");
        }
    }
}
