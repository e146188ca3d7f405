//! Tracking links for the common European carriers, built from the carrier's name and the
//! tracking number when the shop gives no link. A shop's own link is kept only when it is an
//! `http(s)` URL (never `javascript:` or the like).

use super::model::Tracking;

/// Carriers by the words their names contain (lower case), and their tracking pages.
const CARRIERS: &[(&[&str], &str)] = &[
    (
        &["dhl"],
        "https://www.dhl.com/global-en/home/tracking/tracking-parcel.html?submit=1&tracking-id=",
    ),
    (&["dpd"], "https://tracking.dpd.de/status/en_US/parcel/"),
    (
        &["gls"],
        "https://gls-group.com/GROUP/en/parcel-tracking?match=",
    ),
    (&["ups"], "https://www.ups.com/track?tracknum="),
    (&["postnl"], "https://jouw.postnl.nl/track-and-trace/"),
    (
        &["hermes", "evri"],
        "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation/#",
    ),
    (
        &["colissimo", "la poste", "laposte"],
        "https://www.laposte.fr/outils/suivre-vos-envois?code=",
    ),
    (
        &["poste italiane", "posteitaliane", "poste-italiane"],
        "https://www.poste.it/cerca/index.html#/risultati-spedizioni/",
    ),
    (
        &["correos"],
        "https://www.correos.es/es/es/herramientas/localizador/envios/detalle?tracking-number=",
    ),
    (
        &["royal mail", "royalmail", "royal-mail"],
        "https://www.royalmail.com/track-your-item#/tracking-results/",
    ),
];

/// The carrier's tracking page for `number`, if Lethe knows the carrier.
pub fn link(company: &str, number: &str) -> Option<String> {
    let company = company.to_lowercase();
    let number = number.trim();
    if number.is_empty() {
        return None;
    }
    let (_, base) = CARRIERS
        .iter()
        .find(|(names, _)| names.iter().any(|n| company.contains(n)))?;
    let encoded: String = url::form_urlencoded::byte_serialize(number.as_bytes()).collect();
    Some(format!("{base}{encoded}"))
}

/// A shop's link, when it is a web address.
fn web_link(url: Option<String>) -> Option<String> {
    url.map(|u| u.trim().to_owned())
        .filter(|u| url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https")))
}

/// A parcel from what the shop says (nothing when it says neither number nor link).
pub fn tracking(company: String, number: String, url: Option<String>) -> Option<Tracking> {
    let url = web_link(url).or_else(|| link(&company, &number));
    if number.trim().is_empty() && url.is_none() {
        return None;
    }
    Some(Tracking {
        number: number.trim().to_owned(),
        company: company.trim().to_owned(),
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_carrier_gets_a_link_with_the_number() {
        for company in [
            "DHL Express",
            "DPD",
            "GLS",
            "UPS",
            "PostNL",
            "Hermes",
            "Colissimo",
            "La Poste",
            "Poste Italiane",
            "Correos",
            "Royal Mail",
        ] {
            let url = link(company, "AB 123").unwrap_or_else(|| panic!("{company}"));
            assert!(url.starts_with("https://"), "{url}");
            assert!(url.ends_with("AB+123"), "{url}");
        }
        assert_eq!(link("Unknown Couriers", "1"), None);
    }

    #[test]
    fn a_shop_link_that_is_not_a_web_address_is_replaced() {
        let t = tracking(
            "UPS".into(),
            "1Z999".into(),
            Some("javascript:alert(1)".into()),
        )
        .unwrap();
        assert_eq!(
            t.url.as_deref(),
            Some("https://www.ups.com/track?tracknum=1Z999")
        );
    }
}
