//! Checkout's decisions, kept free of I/O so they can be tested on their own.
//!
//! Placing an order runs steps against other services (charge, ship) and records the order's
//! status after each. Every step is idempotent with the order number as its key, so an order
//! left half-way can be resumed by repeating the same checkout attempt. These functions decide
//! where to resume, and what to do with the order when a step fails.

use crate::order::OrderStatus;

/// Where to pick up when a checkout attempt that already has an order is submitted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// The order is finished (completed, failed or refunded): answer with it, change nothing.
    /// A failed order stays failed; trying again is a new attempt.
    Answer,
    /// Saved, but not known to be charged: charge (same key, so never twice) and go on.
    Charge,
    /// Charged, but not known to be shipped: ship (same key) and go on.
    Ship,
}

/// Where to resume an existing order in `status`.
pub const fn resume_from(status: OrderStatus) -> Resume {
    match status {
        OrderStatus::Pending => Resume::Charge,
        OrderStatus::Paid | OrderStatus::Shipped => Resume::Ship,
        OrderStatus::Completed | OrderStatus::Failed | OrderStatus::Refunded => Resume::Answer,
    }
}

/// A step of placing an order that calls another service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Charging the card.
    Charge,
    /// Arranging the shipment.
    Ship,
}

/// How a step's call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with a definite "no" (e.g. a declined card): it did nothing.
    Refused,
    /// The service could not be reached or broke: whether it acted is unknown.
    Unknown,
}

/// What to do with the order after a failed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Mark the order failed with the reason.
    Fail,
    /// Leave the order as it is: repeating the attempt resumes it, and the idempotent step
    /// either finds the earlier result or does the work once.
    KeepForRetry,
    /// Refund the charge, then mark the order failed. If the refund cannot be made, keep the
    /// order (paid) for a retry instead: a charge must always belong to a live order.
    RefundThenFail,
}

/// The recovery for `failure` in `step` when the reconciler, not a waiting shopper, runs it: an
/// unreachable carrier is retried on the next run (shipping is idempotent per order, and the
/// order page promises to ship), so only a definite refusal is refunded.
pub const fn reconciler_recovery(step: Step, failure: Failure) -> Recovery {
    match (step, failure) {
        (Step::Ship, Failure::Unknown) => Recovery::KeepForRetry,
        _ => recovery(step, failure),
    }
}

/// The recovery for `failure` in `step`.
pub const fn recovery(step: Step, failure: Failure) -> Recovery {
    match (step, failure) {
        // Declined: nothing was charged, the shopper needs to know and try another card.
        (Step::Charge, Failure::Refused) => Recovery::Fail,
        // Maybe charged: only a retry with the same key can find out without charging twice.
        (Step::Charge, Failure::Unknown) => Recovery::KeepForRetry,
        // Charged but not shipped: don't keep the shopper's money for an order that may never ship.
        (Step::Ship, Failure::Refused | Failure::Unknown) => Recovery::RefundThenFail,
    }
}

/// What the reconciler does with an order it took (orders left behind by outages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconcile {
    /// Pending: whether a charge exists is unknown and the card is gone, so ask payment's
    /// ledger to settle it: the charge made with the order's key (then ship), or none, and
    /// then the key is closed so that none can ever be made (then fail the order, not charged).
    Settle,
    /// Paid: ship with the order's key, or refund and fail as checkout does.
    Ship,
    /// Finished, but the shopper was not told: send the one final email.
    Email,
    /// Nothing is owed.
    Nothing,
}

/// The reconciler's step for an order in `status`; `email_owed` when its final email (the
/// confirmation, or the failure notice of an order the reconciler failed) was not sent.
pub const fn reconcile(status: OrderStatus, email_owed: bool) -> Reconcile {
    match resume_from(status) {
        Resume::Charge => Reconcile::Settle,
        Resume::Ship => Reconcile::Ship,
        Resume::Answer if email_owed => Reconcile::Email,
        Resume::Answer => Reconcile::Nothing,
    }
}

/// Oldest pending or paid order the reconciler still drives (seconds): under the 24 hours for
/// which payment and shipping remembered idempotency keys before they kept them 30 days, so
/// that an expired key can never read as "no charge" or "not shipped". Older ones are stuck,
/// for an operator.
pub const RECONCILE_MAX_AGE: u32 = 23 * 60 * 60;

/// Longest grace period of a reconcile request (seconds): a day.
pub const RECONCILE_GRACE_MAX: u32 = 24 * 60 * 60;
/// Shortest "stuck" threshold (seconds).
pub const RECONCILE_ALERT_MIN: u32 = 60;
/// Longest "stuck" threshold (seconds): thirty days.
pub const RECONCILE_ALERT_MAX: u32 = 30 * 24 * 60 * 60;
/// Most orders one reconcile call takes.
pub const RECONCILE_LIMIT_MAX: u32 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reconciler_settles_pending_ships_paid_and_owes_emails_only_when_finished() {
        assert_eq!(reconcile(OrderStatus::Pending, false), Reconcile::Settle);
        assert_eq!(reconcile(OrderStatus::Pending, true), Reconcile::Settle);
        assert_eq!(reconcile(OrderStatus::Paid, true), Reconcile::Ship);
        assert_eq!(reconcile(OrderStatus::Completed, true), Reconcile::Email);
        assert_eq!(reconcile(OrderStatus::Failed, true), Reconcile::Email);
        assert_eq!(reconcile(OrderStatus::Completed, false), Reconcile::Nothing);
        assert_eq!(reconcile(OrderStatus::Failed, false), Reconcile::Nothing);
    }

    #[test]
    fn the_reconciler_retries_an_unreachable_carrier_and_refunds_only_a_refusal() {
        assert_eq!(reconciler_recovery(Step::Ship, Failure::Unknown), Recovery::KeepForRetry);
        assert_eq!(reconciler_recovery(Step::Ship, Failure::Refused), Recovery::RefundThenFail);
        assert_eq!(reconciler_recovery(Step::Charge, Failure::Refused), recovery(Step::Charge, Failure::Refused));
        assert_eq!(reconciler_recovery(Step::Charge, Failure::Unknown), recovery(Step::Charge, Failure::Unknown));
    }

    #[test]
    fn only_an_order_not_known_to_be_charged_goes_to_the_ledger() {
        for status in OrderStatus::ALL {
            for owed in [false, true] {
                let settles = reconcile(status, owed) == Reconcile::Settle;
                assert_eq!(settles, status == OrderStatus::Pending, "{status:?}");
            }
        }
    }

    #[test]
    fn finished_orders_are_answered_as_they_are() {
        for status in [
            OrderStatus::Completed,
            OrderStatus::Failed,
            OrderStatus::Refunded,
        ] {
            assert_eq!(resume_from(status), Resume::Answer, "{status:?}");
        }
    }

    #[test]
    fn unfinished_orders_resume_at_their_next_step() {
        assert_eq!(resume_from(OrderStatus::Pending), Resume::Charge);
        assert_eq!(resume_from(OrderStatus::Paid), Resume::Ship);
        assert_eq!(resume_from(OrderStatus::Shipped), Resume::Ship);
    }

    #[test]
    fn every_status_has_a_resume_point_consistent_with_the_lifecycle() {
        for status in OrderStatus::ALL {
            // A status with no way forward must never be resumed.
            if status.is_terminal() {
                assert_eq!(resume_from(status), Resume::Answer, "{status:?}");
            }
        }
    }

    #[test]
    fn a_declined_charge_fails_the_order() {
        assert_eq!(recovery(Step::Charge, Failure::Refused), Recovery::Fail);
    }

    #[test]
    fn an_unknown_charge_outcome_keeps_the_order_for_a_retry() {
        assert_eq!(
            recovery(Step::Charge, Failure::Unknown),
            Recovery::KeepForRetry
        );
    }

    #[test]
    fn a_failed_shipment_is_refunded() {
        assert_eq!(
            recovery(Step::Ship, Failure::Refused),
            Recovery::RefundThenFail
        );
        assert_eq!(
            recovery(Step::Ship, Failure::Unknown),
            Recovery::RefundThenFail
        );
    }
}
