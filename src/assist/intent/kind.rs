//! The fixed set of intents a customer message is sorted into, with their stable snake_case
//! names (used in tags, corpora and the job's counts) and their catalog keys.

/// What a customer wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Intent {
    OrderStatus,
    DeliveryProblem,
    Return,
    Refund,
    DamagedItem,
    Invoice,
    AddressChange,
    Cancellation,
    ProductQuestion,
    Complaint,
    Spam,
    Other,
}

impl Intent {
    pub const ALL: [Intent; 12] = [
        Intent::OrderStatus,
        Intent::DeliveryProblem,
        Intent::Return,
        Intent::Refund,
        Intent::DamagedItem,
        Intent::Invoice,
        Intent::AddressChange,
        Intent::Cancellation,
        Intent::ProductQuestion,
        Intent::Complaint,
        Intent::Spam,
        Intent::Other,
    ];

    /// The stable name, also the tag name offered when the organization has none for it.
    pub fn name(self) -> &'static str {
        match self {
            Intent::OrderStatus => "order_status",
            Intent::DeliveryProblem => "delivery_problem",
            Intent::Return => "return",
            Intent::Refund => "refund",
            Intent::DamagedItem => "damaged_item",
            Intent::Invoice => "invoice",
            Intent::AddressChange => "address_change",
            Intent::Cancellation => "cancellation",
            Intent::ProductQuestion => "product_question",
            Intent::Complaint => "complaint",
            Intent::Spam => "spam",
            Intent::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.name() == name.trim())
    }

    /// The catalog key of its label (`intent.label.refund`).
    pub fn label_key(self) -> &'static str {
        match self {
            Intent::OrderStatus => "intent.label.order_status",
            Intent::DeliveryProblem => "intent.label.delivery_problem",
            Intent::Return => "intent.label.return",
            Intent::Refund => "intent.label.refund",
            Intent::DamagedItem => "intent.label.damaged_item",
            Intent::Invoice => "intent.label.invoice",
            Intent::AddressChange => "intent.label.address_change",
            Intent::Cancellation => "intent.label.cancellation",
            Intent::ProductQuestion => "intent.label.product_question",
            Intent::Complaint => "intent.label.complaint",
            Intent::Spam => "intent.label.spam",
            Intent::Other => "intent.label.other",
        }
    }

    /// Its position in [`Intent::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_indices_follow_all() {
        for (i, intent) in Intent::ALL.into_iter().enumerate() {
            assert_eq!(Intent::parse(intent.name()), Some(intent));
            assert_eq!(intent.index(), i);
        }
        assert_eq!(Intent::parse("nonsense"), None);
    }
}
