//! Best-effort person names without a customer record: greetings ("Hi Anna,"), sign-offs
//! ("Mit freundlichen Grüßen\nKlaus Becker", "Saludos, Javier"), self-introductions ("my name
//! is", "ich heiße", "je m'appelle", …), titles ("Frau Müller", "Mme Dupont"), form fields
//! ("Name: …") and quoted-reply headers ("Anna Schmidt <anna@…> wrote").

use regex::Regex;

use super::{Candidate, TIER_HEURISTIC};
use crate::privacy::pii::kinds::PiiKind;

pub struct NameFinder {
    /// Patterns whose capture group 1 is a name.
    inline: Vec<Regex>,
    closing_line: Regex,
    name_line: Regex,
}

/// One name token ("Anna", "O'Brien", "Jean-Luc") and a full name with particles.
const TOKEN: &str = r"\p{Lu}(?:\p{Ll}*['’]\p{Lu})?[\p{Ll}'’]+(?:-\p{Lu}[\p{Ll}'’]+)?";

/// Capitalised words that greetings and sign-offs use but that are not names.
const NOT_NAMES: &[&str] = &[
    "Team",
    "Support",
    "Service",
    "Kundenservice",
    "Kundendienst",
    "Kundensupport",
    "Damen",
    "Herren",
    "Sir",
    "Madam",
    "Madame",
    "Monsieur",
    "Mesdames",
    "Messieurs",
    "Señor",
    "Señora",
    "Señores",
    "Signore",
    "Signora",
    "Signori",
    "Gentili",
    "Heer",
    "Mevrouw",
    "Zusammen",
    "Alle",
    "All",
    "Everyone",
    "There",
    "Folks",
    "Guys",
    "Leute",
    "Hello",
    "Thanks",
    "Danke",
    "Merci",
    "Gracias",
    "Grazie",
    "Bedankt",
    "Again",
    "Nochmals",
    "Ihr",
    "Ihre",
    "Your",
    "Votre",
    "Vostro",
    "Su",
    "Il",
    "Le",
    "La",
    "Customer",
    "Kunde",
    "Shop",
    "Store",
    "Boutique",
    "Tienda",
    "Negozio",
    "Winkel",
    "Kundin",
    "Liebe",
    "Lieber",
    "Sehr",
    "Geehrte",
    "Beste",
    "Dear",
    "Hallo",
    "Hi",
    "Bonjour",
    "Hola",
    "Buongiorno",
    "Equipo",
    "Équipe",
    "Servizio",
    "Klantenservice",
    "Hilfe",
    "Help",
    "Sales",
    "Info",
    "Mfg",
    "Gruß",
    "Grüße",
    "Regards",
    "Saludos",
    "Cordialement",
    "Gesendet",
    "Sent",
    "Envoyé",
    "Enviado",
    "Inviato",
    "Verzonden",
    "Von",
    "From",
    "Da",
    "De",
    "Van",
    "Morgen",
    "Tag",
    "Abend",
    "Mittag",
    "Ciao",
    "Salut",
    "Salve",
    "Thank",
    "Amazon",
    "Paypal",
    "PayPal",
    "Dhl",
    "Ups",
    "Dpd",
    "Hermes",
    "Gls",
    "Colissimo",
    "Correos",
    "Postnl",
    "Bpost",
    "Nochmal",
    "Vielen",
    "Many",
    "Best",
    "Kind",
    "Viele",
    "Freundliche",
    "Mit",
    "Un",
    "Muchas",
    "Tante",
    "Hartelijke",
    "Met",
    "Groeten",
    "Atentamente",
    "Distinti",
    "Cordiali",
    "Goedemorgen",
    "Goedemiddag",
    "Geachte",
    "Estimado",
    "Estimada",
    "Gentile",
    "Hey",
    "Moin",
    "Servus",
    "Hoi",
    "Hej",
    "Dag",
    "Cher",
    "Chère",
    "Caro",
    "Cara",
    "Querido",
    "Querida",
    "Jetzt",
    "Now",
    "Heute",
    "Today",
    "Ok",
    "Okay",
    "Sorry",
    "Entschuldigung",
    "Bitte",
    "Please",
    "Merci",
    "Bien",
    "Bonne",
    "Buen",
    "Buena",
    "Buenos",
    "Buenas",
    "Fijne",
    "Prettige",
];

impl NameFinder {
    pub fn new() -> Self {
        let particle = r"(?:van|von|de|der|den|da|di|del|della|du|la|le|ter|ten|zu|dos|das|y)";
        let name =
            format!(r"(?:\p{{Lu}}\.[ \t]*)?{TOKEN}(?:[ \t]+(?:{particle}[ \t]+)*{TOKEN}){{0,2}}");
        let greeting = r"(?i:hi|hello|hey|dear|hallo|moin|servus|liebe|lieber|liebes|sehr geehrte|sehr geehrter|guten tag|guten morgen|guten abend|bonjour|bonsoir|salut|cher|chère|hola|buenos días|buenas tardes|buenas|estimado|estimada|querido|querida|buongiorno|buonasera|ciao|salve|gentile|gentilissimo|gentilissima|caro|cara|beste|geachte|goedemorgen|goedemiddag|goedenavond|hoi|hej|dag)";
        let title = r"(?:Herrn?|Frau|Hr\.|Fr\.|Mr\.?|Mrs\.?|Ms\.?|Miss|Dr\.|Monsieur|Madame|M\.|Mme\.?|Mlle|Señor|Señora|Sr\.|Sra\.|Don|Doña|Signor|Signora|Sig\.|Sig\.ra|Dott\.|[Hh]eer|[Mm]evrouw|[Mm]eneer|[Mm]w\.|[Dd]hr\.|[Mm]evr\.)";
        let intro = r"(?i:my name is|my name's|i am called|ich heiße|ich heisse|mein name ist|mein name lautet|je m'appelle|je m’appelle|mon nom est|me llamo|mi nombre es|mi chiamo|il mio nome è|mijn naam is|ik heet|hier spricht|hier schreibt|c'est)";
        let inline = [
            format!(r"(?m)^[ \t>]*{greeting}[ \t]+(?:{title}[ \t]+)?({name})[ \t]*(?:[,!:.]|$)"),
            format!(r"{title}[ \t]+({name})"),
            format!(r"{intro}[ \t]+({name})"),
            format!(
                r"(?i:t\.n\.v\.|ten name van|a nombre de|au nom de|a nome di|auf den namen)[ \t]+({name})"
            ),
            format!(r"({name})[ \t]*<[^<>@\s]+@[^<>\s]+>"),
            format!(
                r#"(?m)^[ \t>]*(?i:from|von|de|van|da|an|to|à|para|a|aan)[ \t]*:[ \t]*"?({name})"#
            ),
            format!(
                r"(?m)^[ \t>]*(?i:name|nom|nombre|nome|naam|vorname|nachname|full name|empfänger|recipient|destinataire|destinatario|ontvanger|name on account|account holder|account name|kontoinhaber|kontoinhaberin|inhaber|inhaberin|titulaire|titulaire du compte|titular|titular de la cuenta|intestatario|intestataria|rekeninghouder|tenaamstelling)[ \t]*:[ \t]*({name})"
            ),
            // "…, account holder Aino Virtanen." in running text.
            format!(
                r"(?i:account holder|name on the account|kontoinhaber|kontoinhaberin|titulaire du compte|titular de la cuenta|intestatario del conto|intestataria del conto|rekeninghouder)[ \t]+({name})"
            ),
        ];
        let closing = r"(?i:best regards|kind regards|warm regards|warmest regards|regards|best wishes|best|cheers|thanks|thank you|many thanks|thanks again|thx|ta|sincerely|yours sincerely|yours faithfully|yours truly|yours|mit freundlichen gr(?:ü|ue|u)(?:ß|ss)en|mit freundlichem gru(?:ß|ss)|freundliche gr(?:ü|ue|u)(?:ß|ss)e|viele gr(?:ü|ue|u)(?:ß|ss)e|liebe gr(?:ü|ue|u)(?:ß|ss)e|beste gr(?:ü|ue|u)(?:ß|ss)e|herzliche gr(?:ü|ue|u)(?:ß|ss)e|sch(?:ö|oe|o)ne gr(?:ü|ue|u)(?:ß|ss)e|gr(?:ü|ue|u)(?:ß|ss)e|gru(?:ß|ss)|lg|vg|mfg|danke|danke schön|vielen dank|cordialement|bien cordialement|bien à vous|salutations|sincères salutations|bien amicalement|merci|merci beaucoup|merci d'avance|bonne journée|saludos|un saludo|saludos cordiales|atentamente|gracias|muchas gracias|un abrazo|cordiali saluti|distinti saluti|saluti|grazie|grazie mille|un saluto|a presto|met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|vriendelijke groeten|groeten|groetjes|mvg|bedankt|alvast bedankt|hartelijke groet|hartelijke groeten)";
        NameFinder {
            inline: inline
                .iter()
                .map(|p| Regex::new(p).expect("constant name pattern"))
                .collect(),
            closing_line: Regex::new(&format!(
                r"(?m)^[ \t>]*(?:{closing}(?:[ \t]+(?i:aus|from|de|da|uit|desde|a lot|so much|again|a todos)(?:[ \t]+[\p{{Lu}}0-9][\p{{L}}0-9\-]*){{0,3}})?[ \t]*[,!.]?[ \t]*(?:({name})[ \t]*[.!]?[ \t]*)?|--[ \t]*)\r?$"
            ))
            .expect("constant name pattern"),
            name_line: Regex::new(&format!(
                r"^[ \t>]*(?:-{{1,2}}[ \t]*)?({name})[ \t]*(?:$|[,|(<]|\r$)"
            ))
            .expect("constant name pattern"),
        }
    }

    /// A line holding only a name, directly above a line that starts with an address,
    /// postcode, email or phone number (an address block or signature), is a name.
    pub fn find_above(&self, text: &str, anchors: &[Candidate], out: &mut Vec<Candidate>) {
        for a in anchors {
            if !matches!(
                a.kind,
                PiiKind::Address | PiiKind::Postcode | PiiKind::Email | PiiKind::Phone
            ) {
                continue;
            }
            let line_start = text[..a.start].rfind('\n').map_or(0, |i| i + 1);
            let prefix = text[line_start..a.start].trim();
            let prefix_ok = prefix.is_empty()
                || (prefix.len() <= 12 && prefix.ends_with(':'))
                || prefix.eq_ignore_ascii_case("tel.");
            if !prefix_ok || line_start == 0 {
                continue;
            }
            let prev_end = line_start - 1;
            let prev_start = text[..prev_end].rfind('\n').map_or(0, |i| i + 1);
            let line = text[prev_start..prev_end].trim_end_matches('\r');
            if let Some(c) = self.name_line.captures(line)
                && let Some(m) = c.get(1)
            {
                push_name(text, prev_start + m.start(), prev_start + m.end(), out);
            }
        }
    }

    /// The mail's last non-empty line, when it holds only a name and follows an empty line
    /// (a signature without a sign-off phrase), is a name.
    fn find_last_line(&self, text: &str, out: &mut Vec<Candidate>) {
        let trimmed = text.trim_end();
        let start = trimmed.rfind('\n').map_or(0, |i| i + 1);
        if start == 0 {
            return;
        }
        let before = trimmed[..start - 1].trim_end_matches('\r');
        let blank_above =
            before.ends_with('\n') || before.trim_end_matches([' ', '\t']).ends_with('\n');
        if !blank_above {
            return;
        }
        let line = trimmed[start..].trim_end_matches('\r');
        if let Some(c) = self.name_line.captures(line)
            && let Some(m) = c.get(1)
            && m.end() == line.trim_end().len()
        {
            push_name(text, start + m.start(), start + m.end(), out);
        }
    }

    pub fn find(&self, text: &str, out: &mut Vec<Candidate>) {
        self.find_last_line(text, out);
        for re in &self.inline {
            for caps in re.captures_iter(text) {
                if let Some(m) = caps.get(1) {
                    push_name(text, m.start(), m.end(), out);
                }
            }
        }
        for caps in self.closing_line.captures_iter(text) {
            if let Some(m) = caps.get(1) {
                push_name(text, m.start(), m.end(), out);
                continue;
            }
            let Some(whole) = caps.get(0) else { continue };
            // The sign-off stands alone: the name is on the next non-empty line.
            let rest = &text[whole.end()..];
            let mut offset = whole.end();
            for line in rest.split_inclusive('\n').take(3) {
                let content = line.trim_end_matches(['\n', '\r']);
                if content.trim_matches([' ', '\t', '>']).is_empty() {
                    offset += line.len();
                    continue;
                }
                if let Some(c) = self.name_line.captures(content)
                    && let Some(m) = c.get(1)
                {
                    push_name(text, offset + m.start(), offset + m.end(), out);
                }
                break;
            }
        }
    }
}

/// Pushes the name, dropping leading/trailing words that are not names.
fn push_name(text: &str, start: usize, end: usize, out: &mut Vec<Candidate>) {
    let span = &text[start..end];
    let words: Vec<(usize, &str)> = span
        .split([' ', '\t'])
        .scan(0usize, |pos, w| {
            let at = *pos;
            *pos += w.len() + 1;
            Some((at, w))
        })
        .filter(|(_, w)| !w.is_empty())
        .collect();
    let keep: Vec<&(usize, &str)> = words
        .iter()
        .take_while(|(_, w)| !NOT_NAMES.contains(w))
        .collect();
    let (Some(first), Some(last)) = (keep.first(), keep.last()) else {
        return;
    };
    if NOT_NAMES.contains(&first.1) {
        return;
    }
    out.push(Candidate {
        kind: PiiKind::Name,
        start: start + first.0,
        end: start + last.0 + last.1.len(),
        tier: TIER_HEURISTIC,
    });
}
