//! Which organization tags stand for which intent. A tag means an intent when its name,
//! accent- and case-folded with spaces and hyphens read as `_`, is the intent's stable name
//! (`refund`, `damaged_item`) or its label in one of the catalog's languages (English, German,
//! French: "Refund", "Rückerstattung", "Remboursement") or in Spanish, Italian or Dutch (the
//! list below). So a shop that already tags "Rückerstattung" trains its model with those
//! conversations, and the button offers that tag rather than a new one.

use crate::privacy::pii::fold::fold_str;
use crate::web::i18n::{Lang, Tr};

use super::kind::Intent;

/// Labels in the languages the UI catalog does not have yet.
fn more_labels(intent: Intent) -> &'static [&'static str] {
    match intent {
        Intent::OrderStatus => &["estado del pedido", "stato ordine", "bestelstatus"],
        Intent::DeliveryProblem => &[
            "problema de entrega",
            "problema di consegna",
            "bezorgprobleem",
        ],
        Intent::Return => &["devolucion", "reso", "retour"],
        Intent::Refund => &["reembolso", "rimborso", "terugbetaling"],
        Intent::DamagedItem => &[
            "articulo danado",
            "articolo danneggiato",
            "beschadigd artikel",
        ],
        Intent::Invoice => &["factura", "fattura", "factuur"],
        Intent::AddressChange => &["cambio de direccion", "cambio indirizzo", "adreswijziging"],
        Intent::Cancellation => &["cancelacion", "annullamento", "annulering"],
        Intent::ProductQuestion => &[
            "pregunta sobre el producto",
            "domanda sul prodotto",
            "productvraag",
        ],
        Intent::Complaint => &["queja", "reclamo", "klacht"],
        Intent::Spam => &[],
        Intent::Other => &["otro", "altro", "overig"],
    }
}

fn normal(name: &str) -> String {
    fold_str(name).replace([' ', '-'], "_")
}

/// The intent a tag named `name` stands for, if any.
pub fn intent_of(name: &str) -> Option<Intent> {
    let name = normal(name);
    Intent::ALL.into_iter().find(|intent| {
        name == intent.name()
            || Lang::ALL
                .into_iter()
                .any(|lang| normal(Tr::new(lang).t(intent.label_key())) == name)
            || more_labels(*intent).iter().any(|l| normal(l) == name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_in_any_language_map_to_their_intent() {
        assert_eq!(intent_of("refund"), Some(Intent::Refund));
        assert_eq!(intent_of("Damaged item"), Some(Intent::DamagedItem));
        assert_eq!(intent_of("damaged-item"), Some(Intent::DamagedItem));
        assert_eq!(intent_of("Rückerstattung"), Some(Intent::Refund));
        assert_eq!(intent_of("RUCKERSTATTUNG"), Some(Intent::Refund));
        assert_eq!(intent_of("Remboursement"), Some(Intent::Refund));
        assert_eq!(intent_of("rimborso"), Some(Intent::Refund));
        assert_eq!(intent_of("VIP"), None);
    }
}
