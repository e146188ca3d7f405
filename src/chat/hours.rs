//! Business hours of a chat channel that answers by mail outside them: the organization's
//! calendar of `/settings/sla` (its time zone, days, hours and holidays), or Monday to Friday
//! 09:00–17:00 UTC when it saved none.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::channel::ChatChannel;
use crate::sla::calendar::SlaSettings;

/// Whether the channel is outside its business hours at `at` and so asks for an address.
pub async fn answers_by_mail(
    db: &impl ConnectionTrait,
    channel: &ChatChannel,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    if !channel.settings.answer_by_mail_outside_hours {
        return Ok(false);
    }
    let calendar = match crate::sla::settings_of(db, channel.org).await? {
        Some((settings, _)) => settings.calendar,
        None => SlaSettings::empty().calendar,
    };
    Ok(!calendar.is_open(at))
}
