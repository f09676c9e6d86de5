//! How fast someone may guess passwords: the schedule of sign-in delays.
//!
//! Failed sign-ins are counted per account (its email, whether or not the account exists, so
//! the limit says nothing about which emails have accounts) and per client (its IP address).
//! The first [`Limit::free_failures`] failures cost nothing; after that each attempt must wait
//! `2^(failures - free)` seconds after the last one, at most [`MAX_DELAY_MS`]. A count is
//! forgotten [`WINDOW_MS`] after its wait ended ([`Limit::keep_ms`], the store's time to live):
//! a shopper who mistyped five times starts afresh 15 minutes later, while an attacker who comes
//! back the moment each wait ends keeps their count. With the account limit (5 free), that is
//! 15 guesses in the first 17 minutes, then one every 15 minutes.
//!
//! Concurrent attempts must not all see the same count (100 parallel guesses would all pass):
//! the store counts an attempt *before* the password is checked, with one atomic increment that
//! gives each attempt its own number ([`Limit::decide_claimed`]). A refused attempt takes its
//! number back, a successful sign-in clears the account's count and takes back its client's.
//!
//! Nor may they all read the same time of the last attempt: once a wait has ended, every
//! attempt of a burst that counted itself before the first of them recorded its time would see
//! that wait as over. So past the free attempts a wait lets exactly one attempt through, its
//! [`Turn`], which the store grants once (`SET ... NX`) to whichever asks first
//! ([`Limit::decide_in_turn`]).
//!
//! Sign-ups are limited per client the same way ([`SIGN_UPS_PER_CLIENT`]): each costs a
//! password hash and tells whether an email has an account, so they must not come at full speed.
//!
//! Times are milliseconds since the Unix epoch, supplied by the caller.

/// Failures are forgotten this long after the wait they caused ended (15 minutes).
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// The longest wait between two attempts (15 minutes).
pub const MAX_DELAY_MS: i64 = 15 * 60 * 1000;

/// One counter's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures (for sign-ups: any sign-ups) allowed before delays begin.
    pub free_failures: u32,
}

/// Per account: 5 free failures, as the issue asks.
pub const PER_ACCOUNT: Limit = Limit { free_failures: 5 };
/// Per client address: more, because many shoppers may share one address (an office, a
/// carrier's NAT) and each of them may mistype; this limit slows guessing across many accounts,
/// the per-account one protects each account.
pub const PER_CLIENT: Limit = Limit { free_failures: 20 };
/// Sign-ups per client address: every one counts, successful or not (each costs a password
/// hash, and a taken email answers 409). 10 free, then the same growing waits: a household or
/// an office signs up freely, a script testing which emails have accounts gets one try per wait.
pub const SIGN_UPS_PER_CLIENT: Limit = Limit { free_failures: 10 };

/// The failures counted so far against one account or client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// How many, since the count was last forgotten or cleared.
    pub count: u32,
    /// When the last one happened.
    pub last_at_ms: i64,
}

/// The one attempt a wait lets through once it has ended, past the free attempts: the
/// attempts that read the same time of the last attempt ask the store for the same turn, and
/// the store grants it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// When the last attempt that went ahead began (ms): names the wait this turn ends.
    pub after_ms: i64,
    /// How long the store keeps the turn: as long as the count (it must outlive every attempt
    /// that may still ask for it).
    pub keep_ms: i64,
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Check the password.
    Allowed,
    /// Refuse without checking; the shopper may try again in `retry_after_seconds` (≥ 1).
    Refused {
        /// Whole seconds, rounded up.
        retry_after_seconds: u64,
    },
}

impl Limit {
    /// The wait after `count` failures, in milliseconds: none for the free ones, then 1 s, 2 s,
    /// 4 s, ... up to [`MAX_DELAY_MS`].
    pub fn delay_ms(&self, count: u32) -> i64 {
        match count.checked_sub(self.free_failures) {
            None => 0,
            // 2^10 s already exceeds the cap: no larger power is needed (or could overflow).
            Some(extra) if extra >= 10 => MAX_DELAY_MS,
            Some(extra) => (1_i64 << extra).saturating_mul(1000).min(MAX_DELAY_MS),
        }
    }

    /// How long the store keeps a count of `count` after its last attempt: its wait, and
    /// [`WINDOW_MS`] more.
    pub fn keep_ms(&self, count: u32) -> i64 {
        self.delay_ms(count).saturating_add(WINDOW_MS)
    }

    /// Whether an attempt at `now_ms` may go ahead, given the failures counted so far.
    pub fn decide(&self, failures: Option<Failures>, now_ms: i64) -> Decision {
        let Some(f) = failures else {
            return Decision::Allowed;
        };
        let delay = self.delay_ms(f.count);
        // Checked apart: with another server's clock ahead, `last` may lie in the future.
        if delay == 0 {
            return Decision::Allowed;
        }
        let until = f.last_at_ms.saturating_add(delay);
        let wait_ms = until.saturating_sub(now_ms);
        if wait_ms <= 0 {
            return Decision::Allowed;
        }
        refused_for(wait_ms)
    }

    /// [`Limit::decide`] for an attempt that has counted itself: `claimed` is the count the
    /// store's atomic increment answered (this attempt included), `last_at_ms` when the last
    /// attempt that went ahead began. Earlier attempts counted but not yet timed are in flight
    /// right now, so a missing time reads as `now_ms`. A count below one reads as none.
    pub fn decide_claimed(&self, claimed: i64, last_at_ms: Option<i64>, now_ms: i64) -> Decision {
        let before = u32::try_from(claimed.saturating_sub(1)).unwrap_or(if claimed > 1 { u32::MAX } else { 0 });
        let failures = (before > 0).then(|| Failures { count: before, last_at_ms: last_at_ms.unwrap_or(now_ms) });
        self.decide(failures, now_ms)
    }

    /// [`Limit::decide_claimed`], then, for an attempt past the free ones that may go ahead,
    /// the wait's [`Turn`]: `take_turn` asks the store for it and answers whether this attempt
    /// got it. Without it, a burst sent the moment a wait ended would all go ahead: its attempts
    /// count themselves before any of them records its time, so all read the same old `last`.
    /// Refused without the turn: another attempt took it, and its failure starts the next wait.
    pub fn decide_in_turn<E>(
        &self,
        claimed: i64,
        last_at_ms: Option<i64>,
        now_ms: i64,
        take_turn: impl FnOnce(Turn) -> Result<bool, E>,
    ) -> Result<Decision, E> {
        let decision = self.decide_claimed(claimed, last_at_ms, now_ms);
        if decision != Decision::Allowed || claimed <= i64::from(self.free_failures) {
            return Ok(decision);
        }
        let count = u32::try_from(claimed).unwrap_or(u32::MAX);
        let turn = Turn { after_ms: last_at_ms.unwrap_or(now_ms), keep_ms: self.keep_ms(count) };
        if take_turn(turn)? {
            Ok(Decision::Allowed)
        } else {
            Ok(refused_for(self.delay_ms(count.saturating_sub(1))))
        }
    }
}

/// Refused for `wait_ms`, in whole seconds rounded up (at least one).
fn refused_for(wait_ms: i64) -> Decision {
    let seconds = wait_ms.saturating_add(999) / 1000;
    Decision::Refused { retry_after_seconds: u64::try_from(seconds).unwrap_or(1).max(1) }
}

/// The stricter of two decisions (the longer wait).
pub fn stricter(a: Decision, b: Decision) -> Decision {
    match (a, b) {
        (Decision::Allowed, other) | (other, Decision::Allowed) => other,
        (Decision::Refused { retry_after_seconds: x }, Decision::Refused { retry_after_seconds: y }) => {
            Decision::Refused { retry_after_seconds: x.max(y) }
        }
    }
}

/// What the shopper reads when a sign-in is refused.
pub fn refusal_message(retry_after_seconds: u64) -> String {
    format!("Too many sign-in attempts. {}", try_again(retry_after_seconds))
}

/// What the shopper reads when a sign-up is refused.
pub fn sign_up_refusal_message(retry_after_seconds: u64) -> String {
    format!("Too many sign-ups from your network. {}", try_again(retry_after_seconds))
}

fn try_again(seconds: u64) -> String {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    format!("Try again in {seconds} {unit}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::convert::Infallible;

    const T: i64 = 1_800_000_000_000;

    /// The store's side of the protocol, as the accounts service runs it on Redis: a count and
    /// the time of the last counted attempt, forgotten WINDOW_MS after it, and the turns taken.
    #[derive(Default)]
    struct Counter {
        count: i64,
        last: Option<i64>,
        turns: HashSet<i64>,
    }

    impl Counter {
        /// One attempt at `now`: count it, decide, take the number back when refused.
        fn attempt(&mut self, limit: &Limit, now: i64) -> Decision {
            let kept = PER_ACCOUNT.keep_ms(u32::try_from(self.count).unwrap());
            if self.last.is_some_and(|l| now - l >= kept) {
                *self = Counter::default();
            }
            self.count += 1;
            let turns = &mut self.turns;
            let decision = limit.decide_in_turn(self.count, self.last, now, |t| Ok::<_, Infallible>(turns.insert(t.after_ms))).unwrap();
            match decision {
                Decision::Allowed => self.last = Some(now),
                Decision::Refused { .. } => self.count -= 1,
            }
            decision
        }
    }

    #[test]
    fn five_failures_are_free_then_the_wait_doubles() {
        let delays: Vec<i64> = (0..=16).map(|n| PER_ACCOUNT.delay_ms(n) / 1000).collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        assert_eq!(PER_ACCOUNT.delay_ms(u32::MAX), MAX_DELAY_MS);
        assert_eq!(PER_CLIENT.delay_ms(20), 1000);
        assert_eq!(PER_CLIENT.delay_ms(19), 0);
    }

    #[test]
    fn the_sixth_attempt_waits_a_second_after_the_fifth_failure() {
        let mut c = Counter::default();
        for i in 0..5 {
            assert_eq!(c.attempt(&PER_ACCOUNT, T + i * 100), Decision::Allowed, "attempt {}", i + 1);
        }
        let fifth = T + 400;
        assert_eq!(c.attempt(&PER_ACCOUNT, fifth + 1), Decision::Refused { retry_after_seconds: 1 });
        assert_eq!(c.attempt(&PER_ACCOUNT, fifth + 999), Decision::Refused { retry_after_seconds: 1 });
        assert_eq!(c.count, 5, "refused attempts are not counted");
        assert_eq!(c.attempt(&PER_ACCOUNT, fifth + 1000), Decision::Allowed);
        // The sixth fails too: the seventh waits two seconds.
        assert_eq!(c.attempt(&PER_ACCOUNT, fifth + 1001), Decision::Refused { retry_after_seconds: 2 });
        assert_eq!(c.attempt(&PER_ACCOUNT, fifth + 3000), Decision::Allowed);
    }

    #[test]
    fn concurrent_attempts_each_get_their_own_number() {
        // 100 attempts counted before any of them went ahead (so no time stored yet): only the
        // free ones go ahead.
        let claimed: Vec<Decision> = (1..=100).map(|k| PER_ACCOUNT.decide_claimed(k, None, T)).collect();
        assert_eq!(claimed.iter().filter(|d| **d == Decision::Allowed).count(), 5);
        let timed: Vec<Decision> = (1..=100).map(|k| PER_ACCOUNT.decide_claimed(k, Some(T - 10), T)).collect();
        assert_eq!(timed.iter().filter(|d| **d == Decision::Allowed).count(), 5);
    }

    /// The review's burst: 15 failures counted, the last 901 s ago, so the 15-minute wait has
    /// ended. 85 parallel attempts count themselves (16..=100) before any of them records its
    /// time: all read that old `last`, and without the turn all would go ahead.
    #[test]
    fn a_burst_after_a_wait_ended_gets_one_attempt() {
        let last = Some(T - 901_000);
        assert!((16..=100).all(|k| PER_ACCOUNT.decide_claimed(k, last, T) == Decision::Allowed), "the time alone lets all through");
        let mut turns = HashSet::new();
        let mut asked = Vec::new();
        let decisions: Vec<Decision> = (16..=100)
            .map(|k| {
                let take = |t: Turn| {
                    asked.push(t);
                    Ok::<_, Infallible>(turns.insert(t.after_ms))
                };
                PER_ACCOUNT.decide_in_turn(k, last, T, take).unwrap()
            })
            .collect();
        assert_eq!(decisions.iter().filter(|d| **d == Decision::Allowed).count(), 1, "{decisions:?}");
        assert_eq!(decisions[0], Decision::Allowed);
        assert!(decisions[1..].iter().all(|d| *d == Decision::Refused { retry_after_seconds: 900 }), "{decisions:?}");
        // Every attempt asked for the same turn, kept as long as the count.
        assert!(asked.iter().all(|t| t.after_ms == T - 901_000 && t.keep_ms >= MAX_DELAY_MS + WINDOW_MS), "{asked:?}");
        // The per-client limit the same way.
        let mut turns = HashSet::new();
        let allowed = (21..=100)
            .filter(|k| {
                let take = |t: Turn| Ok::<_, Infallible>(turns.insert(t.after_ms));
                PER_CLIENT.decide_in_turn(*k, last, T, take).unwrap() == Decision::Allowed
            })
            .count();
        assert_eq!(allowed, 1);
    }

    #[test]
    fn the_free_attempts_and_refused_ones_ask_for_no_turn() {
        let no_turn = |_: Turn| -> Result<bool, Infallible> { panic!("asked for a turn") };
        for k in 1..=5 {
            assert_eq!(PER_ACCOUNT.decide_in_turn(k, Some(T), T, no_turn).unwrap(), Decision::Allowed);
        }
        assert_eq!(PER_ACCOUNT.decide_in_turn(6, Some(T), T, no_turn).unwrap(), Decision::Refused { retry_after_seconds: 1 });
        assert_eq!(PER_ACCOUNT.decide_in_turn(6, None, T, no_turn).unwrap(), Decision::Refused { retry_after_seconds: 1 });
        // A store that fails to answer fails the decision.
        assert_eq!(PER_ACCOUNT.decide_in_turn(6, Some(T - 1000), T, |_| Err("down")), Err("down"));
        // A turn already taken: refused for the wait the count implies.
        assert_eq!(PER_ACCOUNT.decide_in_turn(8, Some(T - 10_000), T, |_| Ok::<_, Infallible>(false)).unwrap(), Decision::Refused { retry_after_seconds: 4 });
    }

    #[test]
    fn sign_ups_are_free_ten_times_then_wait() {
        assert_eq!(SIGN_UPS_PER_CLIENT.delay_ms(10), 1000);
        assert_eq!(SIGN_UPS_PER_CLIENT.delay_ms(9), 0);
        let mut c = Counter::default();
        for i in 0..10 {
            assert_eq!(c.attempt(&SIGN_UPS_PER_CLIENT, T + i), Decision::Allowed, "sign-up {}", i + 1);
        }
        assert_eq!(c.attempt(&SIGN_UPS_PER_CLIENT, T + 10), Decision::Refused { retry_after_seconds: 1 });
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        // An attacker who tries again the moment each wait ends.
        let (mut c, mut now, mut allowed) = (Counter::default(), T, Vec::new());
        while allowed.len() < 16 {
            match c.attempt(&PER_ACCOUNT, now) {
                Decision::Allowed => allowed.push((now - T) / 1000),
                Decision::Refused { retry_after_seconds } => now += i64::try_from(retry_after_seconds).unwrap() * 1000,
            }
        }
        // 5 at once, then after 1, 2, 4, ... 512 s, then every 15 minutes: the count is kept.
        assert_eq!(allowed, [0, 0, 0, 0, 0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 1923]);
        assert_eq!(c.count, 16);
        let last = c.last.unwrap();
        assert_eq!(c.attempt(&PER_ACCOUNT, last + 1), Decision::Refused { retry_after_seconds: 900 });
        assert_eq!(c.attempt(&PER_ACCOUNT, last + MAX_DELAY_MS - 1), Decision::Refused { retry_after_seconds: 1 });
        // Left alone for 15 minutes after the wait, the count is forgotten.
        assert_eq!(c.attempt(&PER_ACCOUNT, last + MAX_DELAY_MS + WINDOW_MS), Decision::Allowed);
        assert_eq!(c.count, 1, "a forgotten count starts again");
        // A shopper's five typos are forgotten 15 minutes (and a second) after the fifth.
        let mut c = Counter::default();
        for i in 0..5 {
            assert_eq!(c.attempt(&PER_ACCOUNT, T + i), Decision::Allowed);
        }
        assert_eq!(PER_ACCOUNT.keep_ms(5), 1000 + WINDOW_MS);
        assert_eq!(c.attempt(&PER_ACCOUNT, T + 4 + 1000 + WINDOW_MS), Decision::Allowed);
        assert_eq!(c.count, 1);
    }

    #[test]
    fn odd_stored_counts() {
        assert_eq!(PER_ACCOUNT.decide_claimed(0, Some(T), T), Decision::Allowed);
        assert_eq!(PER_ACCOUNT.decide_claimed(-7, Some(T), T), Decision::Allowed);
        assert_eq!(PER_ACCOUNT.decide_claimed(50, None, T), Decision::Refused { retry_after_seconds: 900 });
        assert_eq!(PER_ACCOUNT.decide_claimed(i64::MAX, Some(T), T), Decision::Refused { retry_after_seconds: 900 });
        assert_eq!(PER_ACCOUNT.decide_claimed(i64::MAX, Some(T - MAX_DELAY_MS), T), Decision::Allowed);
    }

    #[test]
    fn the_stricter_decision_wins() {
        let a = Decision::Refused { retry_after_seconds: 3 };
        let b = Decision::Refused { retry_after_seconds: 8 };
        assert_eq!(stricter(Decision::Allowed, Decision::Allowed), Decision::Allowed);
        assert_eq!(stricter(Decision::Allowed, a), a);
        assert_eq!(stricter(b, Decision::Allowed), b);
        assert_eq!(stricter(a, b), b);
    }

    #[test]
    fn a_clock_that_goes_back_does_not_unlock() {
        let failures = Some(Failures { count: 6, last_at_ms: T });
        assert!(matches!(PER_ACCOUNT.decide(failures, T - 60_000), Decision::Refused { .. }));
        // ... nor lock the free attempts (found by the fuzz target `account_records`).
        let failures = Some(Failures { count: 4, last_at_ms: T });
        assert_eq!(PER_ACCOUNT.decide(failures, T - 60_000), Decision::Allowed);
    }

    #[test]
    fn messages() {
        assert_eq!(refusal_message(1), "Too many sign-in attempts. Try again in 1 second.");
        assert_eq!(sign_up_refusal_message(4), "Too many sign-ups from your network. Try again in 4 seconds.");
        assert_eq!(refusal_message(900), "Too many sign-in attempts. Try again in 900 seconds.");
    }
}
