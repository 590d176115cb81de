//! Per-user escalation, as reported regulator practice asks: a user whose prompts keep being
//! flagged (or masked, blocked, answered with the safe answer) is suspended, with the reason
//! recorded in the tamper-evident log. Counts come from the store's per-user activity
//! (`Store::user_activity`), so they hold across restarts and gateway instances.

use hegui_config::Escalation;
use hegui_store::{ChinaDay, Store};
use hegui_types::Action;

/// Called with the input-review action of the request being served (not yet recorded).
/// Returns the reason when the user was suspended.
pub(crate) async fn check(
    store: &Store,
    limits: Escalation,
    user_id: &str,
    action: Action,
    now_ms: i64,
) -> Option<String> {
    if action < Action::Flag || (limits.flagged_in_a_row == 0 && limits.flagged_per_day == 0) {
        return None;
    }
    // The request being served is not recorded yet: it makes one more.
    let earlier = limits.flagged_in_a_row.saturating_sub(1);
    let activity = match store
        .user_activity(user_id, ChinaDay::of(now_ms), earlier)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "escalation check failed");
            return None;
        }
    };
    let reason = if limits.flagged_in_a_row > 0 && activity.flagged_in_a_row >= i64::from(earlier) {
        Some(format!(
            "{} flagged prompts in a row (review.escalation.flagged_in_a_row)",
            limits.flagged_in_a_row
        ))
    } else if limits.flagged_per_day > 0
        && activity.flagged + 1 >= i64::from(limits.flagged_per_day)
    {
        Some(format!(
            "{} flagged prompts today, UTC+8 (review.escalation.flagged_per_day)",
            activity.flagged + 1
        ))
    } else {
        None
    };
    let reason = reason?;
    match store
        .set_suspended(user_id, true, &reason, "review-escalation")
        .await
    {
        Ok(_) => {
            tracing::warn!(user_id, %reason, "user suspended by review escalation");
            Some(reason)
        }
        Err(e) => {
            tracing::error!(error = %e, user_id, "could not suspend user");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_starts_at_midnight_in_beijing() {
        // 2025-01-01T15:59:59Z is 23:59:59 in Beijing; 16:00:00Z is the next day.
        let before = 1_735_747_199_000;
        let after = 1_735_747_200_000;
        assert_eq!(ChinaDay::of(before).start_ms(), 1_735_660_800_000);
        assert_eq!(ChinaDay::of(after).start_ms(), 1_735_747_200_000);
    }
}
