//! Email addresses.

use regex::Regex;

use super::{Candidate, TIER_EXACT};
use crate::privacy::pii::kinds::PiiKind;

pub struct EmailFinder {
    re: Regex,
    /// Spelled-out addresses: "jo.smith at example dot com", "ana arroba example punto es",
    /// "jan [at] example [dot] nl".
    spelled: Regex,
}

impl EmailFinder {
    pub fn new() -> Self {
        EmailFinder {
            re: Regex::new(
                r"[\p{L}\p{N}_%+\-][\p{L}\p{N}._%+\-]*@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,24}",
            )
            .expect("constant email pattern"),
            spelled: Regex::new(
                r"(?i)[\p{L}\p{N}_%+\-]+(?:(?:\.|[ \t]*[\[(][ \t]*(?:dot|punto|punkt|point|punt)[ \t]*[\])][ \t]*|[ \t]+(?:dot|punto|punkt|point|punt)[ \t]+)[\p{L}\p{N}_%+\-]+)*(?:[ \t]*[\[(][ \t]*(?:at|ät|arobase)[ \t]*[\])][ \t]*|[ \t]+(?:at|arroba|arobase|chiocciola|apenstaartje|klammeraffe|ät)[ \t]+)[\p{L}\p{N}_%+\-]+(?:(?:\.|[ \t]*[\[(][ \t]*(?:dot|punto|punkt|point|punt)[ \t]*[\])][ \t]*|[ \t]+(?:dot|punto|punkt|point|punt)[ \t]+)[\p{L}\p{N}_%+\-]+)*(?:\.|[ \t]*[\[(][ \t]*(?:dot|punto|punkt|point|punt)[ \t]*[\])][ \t]*|[ \t]+(?:dot|punto|punkt|point|punt)[ \t]+)(?:com|net|org|info|eu|de|at|ch|fr|be|es|it|nl|uk|co\.uk|ie|lu|pt|pl)(?-u:\b)",
            )
            .expect("constant email pattern"),
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.re.find_iter(text).chain(self.spelled.find_iter(text)) {
            if is_role_address(m.as_str()) {
                continue;
            }
            out.push(Candidate {
                kind: PiiKind::Email,
                start: m.start(),
                end: m.end(),
                tier: TIER_EXACT,
            });
        }
    }
}

/// Local parts that name a function, not a person ("support@", "noreply@", "kundenservice@"):
/// a shop's or a carrier's own address is no one's personal data. A customer-record address
/// is still found by the record match, whatever its local part.
const ROLE_LOCAL_PARTS: &[&str] = &[
    "info",
    "support",
    "service",
    "help",
    "hilfe",
    "contact",
    "kontakt",
    "contacto",
    "contatti",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "no_reply",
    "notifications",
    "notification",
    "kundenservice",
    "kundendienst",
    "klantenservice",
    "serviceclient",
    "service-client",
    "serviceclients",
    "atencion",
    "atencionalcliente",
    "atencion.cliente",
    "clientes",
    "assistenza",
    "servizioclienti",
    "ordini",
    "orders",
    "order",
    "bestellung",
    "bestellingen",
    "commandes",
    "pedidos",
    "sales",
    "verkauf",
    "vendite",
    "ventas",
    "billing",
    "rechnung",
    "facturation",
    "facturacion",
    "fatturazione",
    "facturen",
    "returns",
    "retouren",
    "retours",
    "devoluciones",
    "resi",
    "privacy",
    "datenschutz",
    "dpo",
    "gdpr",
    "avg",
    "rgpd",
    "office",
    "buero",
    "hello",
    "hallo",
    "bonjour",
    "hola",
    "ciao",
    "team",
    "shop",
    "webshop",
    "admin",
    "postmaster",
    "webmaster",
    "newsletter",
    "marketing",
    "press",
    "presse",
    "prensa",
    "stampa",
    "pers",
    "jobs",
    "karriere",
    "careers",
];

fn is_role_address(address: &str) -> bool {
    address
        .split_once('@')
        .is_some_and(|(local, _)| ROLE_LOCAL_PARTS.contains(&local.to_lowercase().as_str()))
}
