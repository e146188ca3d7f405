//! Signatures under replies: the agent's own (`/account`) and the channel's
//! (`/settings/channels/{id}`), with the placeholders `{agent_name}` and `{shop_name}` (the
//! organization's name). The channel decides where the agent's signature goes: below its own,
//! above it, or not at all. Filled when a reply is queued, so the stored message is what was
//! sent.

use sea_orm::{ConnectionTrait, EntityTrait};

use super::MailError;
use crate::db::entity::{channel, organization, user};
use crate::orgs::OrgId;

/// The longest signature accepted, in characters.
pub const MAX_SIGNATURE_CHARS: usize = 2_000;

/// Where a channel puts the agent's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentPlacement {
    /// Under the channel's signature (the default).
    Below,
    /// Above the channel's signature.
    Above,
    /// Only the channel's signature.
    None,
}

impl AgentPlacement {
    pub const ALL: [AgentPlacement; 3] = [Self::Below, Self::Above, Self::None];

    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "below" => Some(Self::Below),
            "above" => Some(Self::Above),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Below => "below",
            Self::Above => "above",
            Self::None => "none",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Self::Below => "signature.agent_below",
            Self::Above => "signature.agent_above",
            Self::None => "signature.agent_none",
        }
    }
}

/// A signature as typed: trimmed, at most [`MAX_SIGNATURE_CHARS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature(String);

impl Signature {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value = value.trim().replace("\r\n", "\n");
        if value.chars().count() > MAX_SIGNATURE_CHARS {
            return Err("signature.too_long");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `template` with its placeholders filled.
pub fn fill(template: &str, agent_name: &str, shop_name: &str) -> String {
    template
        .replace("{agent_name}", agent_name)
        .replace("{shop_name}", shop_name)
}

/// The agent's and the channel's signatures put together as the channel says.
pub fn combine(agent: &str, channel: &str, placement: AgentPlacement) -> String {
    let (agent, channel) = (agent.trim(), channel.trim());
    let parts: Vec<&str> = match placement {
        AgentPlacement::Below => vec![channel, agent],
        AgentPlacement::Above => vec![agent, channel],
        AgentPlacement::None => vec![channel],
    };
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The filled signature for a reply by `author_id` through `channel`.
pub async fn for_reply(
    db: &impl ConnectionTrait,
    org: OrgId,
    channel: &channel::Model,
    author_id: i64,
) -> Result<String, MailError> {
    let author = user::Entity::find_by_id(author_id).one(db).await?;
    let shop = organization::Entity::find_by_id(org.get())
        .one(db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let (agent_name, agent_signature) = author
        .map(|u| (u.display_name, u.signature))
        .unwrap_or_default();
    let placement =
        AgentPlacement::parse(&channel.agent_signature).unwrap_or(AgentPlacement::Below);
    let combined = combine(&agent_signature, &channel.signature, placement);
    Ok(fill(&combined, &agent_name, &shop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_places_the_agents_signature_and_placeholders_are_filled() {
        let agent = "{agent_name}";
        let channel = "{shop_name} customer care";
        let filled = |p| fill(&combine(agent, channel, p), "Mia", "Shop A");
        assert_eq!(filled(AgentPlacement::Below), "Shop A customer care\nMia");
        assert_eq!(filled(AgentPlacement::Above), "Mia\nShop A customer care");
        assert_eq!(filled(AgentPlacement::None), "Shop A customer care");
        assert_eq!(combine("", "", AgentPlacement::Below), "");
        assert!(Signature::parse(&"x".repeat(MAX_SIGNATURE_CHARS + 1)).is_err());
    }
}
