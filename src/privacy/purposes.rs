//! Why an organization processes its customers' data, and on which legal basis (GDPR Art. 13,
//! 15(1)(a) and 6(1)): a short list of purposes, each with one or more legal bases, that
//! admins set at `/settings/privacy` (`purposes_page`) and that every customer export gives
//! (src/privacy/answer.rs). Until an admin saves the list, Lethe's defaults apply:
//!
//! - answering the customer's enquiries and support requests — Art. 6(1)(b) (a contract or
//!   steps before one) and (f) (the shop's legitimate interest in answering);
//! - keeping the history of the conversations for follow-up questions — 6(1)(f);
//! - keeping the records the law requires (commercial and tax records) — 6(1)(c).
//!
//! A default text is stored as its name (`lethe:support`), so an export says it in the
//! customer's language; an admin's own words are given as written.

use chrono::Utc;
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, QueryOrder, Set, TransactionSession, TransactionTrait,
};

use crate::db::InOrg;
use crate::db::entity::processing_purpose;
use crate::orgs::OrgId;
use crate::web::i18n::{Lang, Tr};

/// Purposes an organization can list at most.
pub const MAX_PURPOSES: usize = 10;
/// Characters a purpose may have at most.
pub const MAX_CHARS: usize = 300;

/// A legal basis of Art. 6(1) GDPR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LegalBasis {
    Consent,
    Contract,
    LegalObligation,
    VitalInterests,
    PublicTask,
    LegitimateInterests,
}

impl LegalBasis {
    pub const ALL: [LegalBasis; 6] = [
        LegalBasis::Consent,
        LegalBasis::Contract,
        LegalBasis::LegalObligation,
        LegalBasis::VitalInterests,
        LegalBasis::PublicTask,
        LegalBasis::LegitimateInterests,
    ];

    /// The stored and exported name.
    pub fn name(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegalObligation => "legal_obligation",
            LegalBasis::VitalInterests => "vital_interests",
            LegalBasis::PublicTask => "public_task",
            LegalBasis::LegitimateInterests => "legitimate_interests",
        }
    }

    /// Its point of Art. 6(1) GDPR.
    pub fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "Art. 6(1)(a) GDPR",
            LegalBasis::Contract => "Art. 6(1)(b) GDPR",
            LegalBasis::LegalObligation => "Art. 6(1)(c) GDPR",
            LegalBasis::VitalInterests => "Art. 6(1)(d) GDPR",
            LegalBasis::PublicTask => "Art. 6(1)(e) GDPR",
            LegalBasis::LegitimateInterests => "Art. 6(1)(f) GDPR",
        }
    }

    /// The catalog text of its article alone (`Art. 6 Abs. 1 lit. b DSGVO` in German).
    pub fn article_key(self) -> &'static str {
        match self {
            LegalBasis::Consent => "privacy.article.consent",
            LegalBasis::Contract => "privacy.article.contract",
            LegalBasis::LegalObligation => "privacy.article.legal_obligation",
            LegalBasis::VitalInterests => "privacy.article.vital_interests",
            LegalBasis::PublicTask => "privacy.article.public_task",
            LegalBasis::LegitimateInterests => "privacy.article.legitimate_interests",
        }
    }

    /// The catalog text: the article and what it means, in the reader's language.
    pub fn label_key(self) -> &'static str {
        match self {
            LegalBasis::Consent => "privacy.basis.consent",
            LegalBasis::Contract => "privacy.basis.contract",
            LegalBasis::LegalObligation => "privacy.basis.legal_obligation",
            LegalBasis::VitalInterests => "privacy.basis.vital_interests",
            LegalBasis::PublicTask => "privacy.basis.public_task",
            LegalBasis::LegitimateInterests => "privacy.basis.legitimate_interests",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name.trim())
    }
}

/// One of Lethe's default purposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultPurpose {
    Support,
    Records,
    LegalRecords,
}

impl DefaultPurpose {
    const ALL: [DefaultPurpose; 3] = [
        DefaultPurpose::Support,
        DefaultPurpose::Records,
        DefaultPurpose::LegalRecords,
    ];

    fn stored(self) -> &'static str {
        match self {
            DefaultPurpose::Support => "lethe:support",
            DefaultPurpose::Records => "lethe:records",
            DefaultPurpose::LegalRecords => "lethe:legal_records",
        }
    }

    fn key(self) -> &'static str {
        match self {
            DefaultPurpose::Support => "export.purpose.support",
            DefaultPurpose::Records => "export.purpose.records",
            DefaultPurpose::LegalRecords => "export.purpose.legal_records",
        }
    }

    fn bases(self) -> Vec<LegalBasis> {
        match self {
            DefaultPurpose::Support => vec![LegalBasis::Contract, LegalBasis::LegitimateInterests],
            DefaultPurpose::Records => vec![LegalBasis::LegitimateInterests],
            DefaultPurpose::LegalRecords => vec![LegalBasis::LegalObligation],
        }
    }
}

/// What a purpose says: one of Lethe's texts (in the reader's language) or the admin's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurposeText {
    Default(DefaultPurpose),
    Own(String),
}

impl PurposeText {
    /// Typed text: one line of at most [`MAX_CHARS`] characters (runs of white space become
    /// one space). A text that is one of Lethe's defaults in any language is that default.
    pub fn parse(typed: &str) -> Result<Option<Self>, &'static str> {
        let text = typed.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > MAX_CHARS {
            return Err("privacy.purposes.error.too_long");
        }
        for default in DefaultPurpose::ALL {
            if Lang::ALL
                .into_iter()
                .any(|lang| Tr::new(lang).t(default.key()) == text)
            {
                return Ok(Some(PurposeText::Default(default)));
            }
        }
        Ok(Some(PurposeText::Own(text)))
    }

    fn from_stored(stored: &str) -> Self {
        DefaultPurpose::ALL
            .into_iter()
            .find(|d| d.stored() == stored)
            .map_or_else(|| PurposeText::Own(stored.to_owned()), PurposeText::Default)
    }

    fn stored(&self) -> &str {
        match self {
            PurposeText::Default(d) => d.stored(),
            PurposeText::Own(text) => text,
        }
    }

    /// The text in `tr`'s language (an admin's own words as written).
    pub fn in_language(&self, tr: Tr) -> String {
        match self {
            PurposeText::Default(d) => tr.t(d.key()).to_owned(),
            PurposeText::Own(text) => text.clone(),
        }
    }
}

/// A purpose and its legal bases (at least one, in the order of Art. 6(1)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose {
    text: PurposeText,
    bases: Vec<LegalBasis>,
}

impl Purpose {
    /// A purpose with `bases`; none is refused.
    pub fn new(text: PurposeText, mut bases: Vec<LegalBasis>) -> Result<Self, &'static str> {
        bases.sort();
        bases.dedup();
        if bases.is_empty() {
            return Err("privacy.purposes.error.no_basis");
        }
        Ok(Self { text, bases })
    }

    pub fn text(&self) -> &PurposeText {
        &self.text
    }

    pub fn bases(&self) -> &[LegalBasis] {
        &self.bases
    }
}

/// An organization's list: one to [`MAX_PURPOSES`] purposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purposes(Vec<Purpose>);

impl Purposes {
    pub fn new(purposes: Vec<Purpose>) -> Result<Self, &'static str> {
        if purposes.is_empty() {
            return Err("privacy.purposes.error.none");
        }
        if purposes.len() > MAX_PURPOSES {
            return Err("privacy.purposes.error.too_many");
        }
        Ok(Self(purposes))
    }

    /// Lethe's defaults.
    pub fn defaults() -> Self {
        Self(
            DefaultPurpose::ALL
                .into_iter()
                .map(|d| Purpose {
                    text: PurposeText::Default(d),
                    bases: d.bases(),
                })
                .collect(),
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = &Purpose> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every legal basis named, once, in the order of Art. 6(1).
    pub fn bases(&self) -> Vec<LegalBasis> {
        let mut all: Vec<LegalBasis> = self.0.iter().flat_map(|p| p.bases.clone()).collect();
        all.sort();
        all.dedup();
        all
    }
}

/// The list of `org`, and whether it is Lethe's defaults (nothing saved).
pub async fn load(db: &impl ConnectionTrait, org: OrgId) -> Result<(Purposes, bool), DbErr> {
    let rows = processing_purpose::Entity::find_in(org)
        .order_by_asc(processing_purpose::Column::Position)
        .all(db)
        .await?;
    let purposes: Vec<Purpose> = rows
        .into_iter()
        .filter_map(|row| {
            let bases = row
                .legal_bases
                .split(',')
                .filter_map(LegalBasis::parse)
                .collect();
            Purpose::new(PurposeText::from_stored(&row.purpose), bases).ok()
        })
        .collect();
    match Purposes::new(purposes) {
        Ok(saved) => Ok((saved, false)),
        Err(_) => Ok((Purposes::defaults(), true)),
    }
}

/// Replaces the list of `org`.
pub async fn save<C>(db: &C, org: OrgId, purposes: &Purposes) -> Result<(), DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = crate::db::begin_write(db).await?;
    processing_purpose::Entity::delete_in(org)
        .exec(&txn)
        .await?;
    let now = Utc::now();
    let rows = purposes
        .iter()
        .enumerate()
        .map(|(position, p)| processing_purpose::ActiveModel {
            organization_id: Set(org),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            purpose: Set(p.text.stored().to_owned()),
            legal_bases: Set(p
                .bases
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(",")),
            updated_at: Set(now),
            ..Default::default()
        });
    processing_purpose::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await
}

/// Goes back to Lethe's defaults.
pub async fn reset(db: &impl ConnectionTrait, org: OrgId) -> Result<(), DbErr> {
    processing_purpose::Entity::delete_in(org).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_text_in_any_language_is_the_default() {
        let german = Tr::new(Lang::De).t("export.purpose.support");
        assert_eq!(
            PurposeText::parse(german),
            Ok(Some(PurposeText::Default(DefaultPurpose::Support)))
        );
        assert_eq!(
            PurposeText::parse("  Sending   invoices "),
            Ok(Some(PurposeText::Own("Sending invoices".to_owned())))
        );
        assert_eq!(PurposeText::parse("   "), Ok(None));
        assert!(PurposeText::parse(&"x".repeat(MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn a_purpose_needs_a_basis_and_a_list_a_purpose() {
        let text = PurposeText::Own("Invoices".to_owned());
        assert!(Purpose::new(text.clone(), vec![]).is_err());
        assert!(Purposes::new(vec![]).is_err());
        let p = Purpose::new(
            text,
            vec![LegalBasis::LegitimateInterests, LegalBasis::Contract],
        )
        .unwrap();
        assert_eq!(
            p.bases(),
            &[LegalBasis::Contract, LegalBasis::LegitimateInterests]
        );
    }
}
