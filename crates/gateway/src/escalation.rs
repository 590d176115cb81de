//! Per-user escalation, as reported regulator practice asks: a user whose prompts keep being
//! flagged (or masked, blocked, answered with the safe answer) is suspended, with the reason
//! recorded in the tamper-evident log. Counts come from the interaction index, so they hold
//! across restarts and gateway instances.

use hegui_config::Escalation;
use hegui_store::Store;
use hegui_types::Action;

const DAY_MS: i64 = 86_400_000;
const UTC8_MS: i64 = 8 * 3_600_000;

/// Start of the current day in China Standard Time (UTC+8), in Unix milliseconds.
fn day_start_utc8(now_ms: i64) -> i64 {
    (now_ms + UTC8_MS).div_euclid(DAY_MS) * DAY_MS - UTC8_MS
}

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
    let mut reason = None;
    if limits.flagged_in_a_row > 0 {
        let earlier = i64::from(limits.flagged_in_a_row) - 1;
        match store.recent_input_actions(user_id, earlier).await {
            Ok(recent) => {
                let all_flagged = recent.len() as i64 == earlier
                    && recent.iter().all(|a| {
                        a.as_deref()
                            .and_then(Action::parse)
                            .is_some_and(|a| a >= Action::Flag)
                    });
                if all_flagged {
                    reason = Some(format!(
                        "{} flagged prompts in a row (review.escalation.flagged_in_a_row)",
                        limits.flagged_in_a_row
                    ));
                }
            }
            Err(e) => tracing::warn!(error = %e, "escalation check failed"),
        }
    }
    if reason.is_none() && limits.flagged_per_day > 0 {
        match store
            .flagged_inputs_since(user_id, day_start_utc8(now_ms))
            .await
        {
            Ok(n) if n + 1 >= i64::from(limits.flagged_per_day) => {
                reason = Some(format!(
                    "{} flagged prompts today, UTC+8 (review.escalation.flagged_per_day)",
                    n + 1
                ));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "escalation check failed"),
        }
    }
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
        assert_eq!(day_start_utc8(before), 1_735_660_800_000);
        assert_eq!(day_start_utc8(after), 1_735_747_200_000);
    }
}
