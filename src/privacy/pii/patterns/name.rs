//! Best-effort person names without a customer record: greetings ("Hi Anna,"), sign-offs
//! ("Mit freundlichen Grüßen\nKlaus Becker", "Saludos, Javier"), self-introductions ("my name
//! is", "ich heiße", "je m'appelle", …), titles ("Frau Müller", "Mme Dupont"), form fields
//! ("Name: …") and quoted-reply headers ("Anna Schmidt <anna@…> wrote"); and anyone in running
//! text ("my husband Tom Fischer", "mijn buurman Jeroen"): runs of capitalised words checked
//! against the embedded gazetteer, with the words before them as context.

use regex::Regex;

use super::gazetteer::{self, FIRST, LAST, WORD};
use super::{Candidate, TIER_HEURISTIC, char_before, context_before};
use crate::privacy::pii::is_particle;
use crate::privacy::pii::kinds::PiiKind;

pub struct NameFinder {
    /// One capitalised word, for names in running text.
    token: Regex,
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
    "Cheers",
    "Groetjes",
    "Atención",
    "Attention",
    "Résidence",
    "Bâtiment",
    "Building",
    "Apartment",
    "Edificio",
    "Palazzo",
    "Gebouw",
    "Returns",
    "Retouren",
    "Retours",
    "Devoluciones",
    "Ufficio",
    "Office",
    "Billing",
    "Accounts",
    "Het",
    "Der",
    "Die",
    "Das",
    "Den",
    "Dem",
    "Des",
    "Del",
    "Della",
    "Les",
    "El",
    "Los",
    "Las",
    "Lo",
    "Gli",
    "The",
    "Ein",
    "Eine",
    "Een",
    "Une",
    "Una",
    "Uno",
    "Chronopost",
    "Mondial",
    "Relay",
    "Seur",
    "Nacex",
    "Bartolini",
    "Poste",
    "Evri",
    "Yodel",
    "Parcelforce",
    "Express",
    "Kurier",
    "Courier",
    // Sign-off words and departments that a greeting or a signature puts where a name goes.
    "Groet",
    "Groeten",
    "Groetjes",
    "Cliente",
    "Clienti",
    "Klant",
    "Notificaciones",
    "Notifiche",
    "Benachrichtigung",
    "Departamento",
    "Abteilung",
    "Afdeling",
    "Dipartimento",
    "Visa",
    "Mastercard",
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
            token: Regex::new(TOKEN).expect("constant name pattern"),
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
        // "thanks\njo", "yanis": a signature in lower case, when the gazetteer knows it as a
        // first name that is no common word, below an empty line or a sign-off.
        let line = trimmed[start..].trim_end_matches('\r');
        let word = line.trim_matches([' ', '\t', '-', '>']);
        let prev_line = before.rsplit('\n').next().unwrap_or("");
        if word.len() >= 2
            && word.chars().all(char::is_lowercase)
            && gazetteer::lookup(word) & (FIRST | WORD) == FIRST
            && (prev_line.trim().is_empty() || self.closing_line.is_match(prev_line))
        {
            let at = start + line.find(word).unwrap_or(0);
            push_running(text, at, at + word.len(), out);
            return;
        }
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
        self.find_running(text, out);
        self.find_last_line(text, out);
        for re in &self.inline {
            for caps in re.captures_iter(text) {
                if let Some(m) = caps.get(1) {
                    // "Größe M. Kann ich…", "maat M. Het label": after a bare "M." only a
                    // name the gazetteer knows.
                    let bare_m = text[..m.start()].trim_end().ends_with(" M.")
                        || text[..m.start()].trim_end() == "M.";
                    let first_word = m.as_str().split([' ', '\t']).next().unwrap_or("");
                    if bare_m && word_flags(first_word) & (FIRST | LAST) == 0 {
                        continue;
                    }
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

/// Words right before a name that say a person follows ("my husband Tom", "meine Nachbarin
/// Yilmaz", "le livreur, Karim", "mijn buurman Jeroen"), lower case.
const PERSON_CUES: &[&str] = &[
    // en
    "husband",
    "wife",
    "son",
    "daughter",
    "mother",
    "mum",
    "mom",
    "father",
    "dad",
    "brother",
    "sister",
    "partner",
    "boyfriend",
    "girlfriend",
    "fiancé",
    "fiancée",
    "neighbour",
    "neighbor",
    "colleague",
    "friend",
    "courier",
    "driver",
    "postman",
    "postwoman",
    "landlord",
    "landlady",
    "flatmate",
    "aunt",
    "uncle",
    "grandmother",
    "grandma",
    "grandfather",
    "grandpa",
    "niece",
    "nephew",
    "cousin",
    "boss",
    "manager",
    "caretaker",
    "concierge",
    "named",
    "called",
    "c/o",
    "attn",
    "attn.",
    "to",
    "with",
    "and",
    "or",
    "by",
    "agent",
    "colleagues",
    "signed",
    // de
    "mann",
    "ehemann",
    "ehefrau",
    "sohn",
    "tochter",
    "mutter",
    "vater",
    "bruder",
    "schwester",
    "partnerin",
    "freund",
    "freundin",
    "nachbar",
    "nachbarn",
    "nachbarin",
    "kollege",
    "kollegin",
    "kollegen",
    "bote",
    "botin",
    "fahrer",
    "fahrerin",
    "paketbote",
    "paketbotin",
    "zusteller",
    "zustellerin",
    "postbote",
    "postbotin",
    "mitarbeiter",
    "mitarbeiterin",
    "chef",
    "chefin",
    "oma",
    "opa",
    "onkel",
    "tante",
    "cousine",
    "enkel",
    "enkelin",
    "schwiegermutter",
    "schwiegervater",
    "namens",
    "bei",
    "mit",
    "und",
    "oder",
    "von",
    "an",
    "für",
    "hausmeister",
    "vermieter",
    "vermieterin",
    // fr
    "mari",
    "femme",
    "fils",
    "fille",
    "mère",
    "père",
    "frère",
    "sœur",
    "soeur",
    "voisin",
    "voisine",
    "collègue",
    "ami",
    "amie",
    "livreur",
    "livreuse",
    "facteur",
    "factrice",
    "conjoint",
    "conjointe",
    "compagnon",
    "compagne",
    "copain",
    "copine",
    "gardien",
    "gardienne",
    "oncle",
    "belle-mère",
    "beau-père",
    "nommé",
    "nommée",
    "chez",
    "avec",
    "et",
    "ou",
    "par",
    "à",
    "pour",
    "mamie",
    "papi",
    // es
    "marido",
    "esposo",
    "esposa",
    "mujer",
    "hijo",
    "hija",
    "madre",
    "padre",
    "hermano",
    "hermana",
    "vecino",
    "vecina",
    "compañero",
    "compañera",
    "amigo",
    "amiga",
    "repartidor",
    "repartidora",
    "mensajero",
    "mensajera",
    "cartero",
    "cartera",
    "pareja",
    "novio",
    "novia",
    "suegra",
    "suegro",
    "tío",
    "tía",
    "primo",
    "prima",
    "abuela",
    "abuelo",
    "portero",
    "portera",
    "llamado",
    "llamada",
    "con",
    "y",
    "o",
    "por",
    "para",
    // it
    "marito",
    "moglie",
    "figlio",
    "figlia",
    "fratello",
    "sorella",
    "vicino",
    "vicina",
    "collega",
    "amico",
    "amica",
    "corriere",
    "fattorino",
    "postino",
    "postina",
    "compagno",
    "compagna",
    "suocera",
    "suocero",
    "zio",
    "zia",
    "cugino",
    "cugina",
    "nonna",
    "nonno",
    "portiere",
    "portinaio",
    "portinaia",
    "chiamato",
    "chiamata",
    "presso",
    "col",
    "con",
    "e",
    "o",
    "per",
    // nl
    "man",
    "vrouw",
    "echtgenoot",
    "echtgenote",
    "zoon",
    "dochter",
    "moeder",
    "vader",
    "broer",
    "zus",
    "zuster",
    "buurman",
    "buurvrouw",
    "buren",
    "vriend",
    "vriendin",
    "bezorger",
    "bezorgster",
    "koerier",
    "postbode",
    "schoonmoeder",
    "schoonvader",
    "oom",
    "neef",
    "nicht",
    "genaamd",
    "met",
    "en",
    "of",
    "door",
    "voor",
    "aan",
    "collega's",
    // flatmates, door bells and intercoms ("citofono Greco")
    "coloc",
    "colocataire",
    "flatmate",
    "housemate",
    "mitbewohner",
    "mitbewohnerin",
    "coinquilino",
    "coinquilina",
    "huisgenoot",
    "citofono",
    "campanello",
    "klingel",
    "sonnette",
    "interphone",
    "timbre",
    "bel",
    "doorbell",
    "buzzer",
    "intercom",
    // owners, families, "a certain …"
    "owner",
    "besitzer",
    "besitzerin",
    "inhaber",
    "inhaberin",
    "propriétaire",
    "dueño",
    "dueña",
    "propietario",
    "propietaria",
    "titolare",
    "proprietario",
    "proprietaria",
    "eigenaar",
    "eigenares",
    "familie",
    "family",
    "famille",
    "familia",
    "famiglia",
    "fam.",
    "certo",
    "certa",
    "nessun",
    "nessuna",
    "cierto",
    "cierta",
    "ningún",
    "certain",
    "certaine",
    "gewisser",
    "gewissen",
    "gewisse",
    "zekere",
    "intestato",
    "intestata",
    "intestatario",
    "intestataria",
    // titles (lower-cased)
    "herr",
    "herrn",
    "frau",
    "hr.",
    "fr.",
    "mr",
    "mr.",
    "mrs",
    "mrs.",
    "ms",
    "ms.",
    "miss",
    "dr.",
    "monsieur",
    "madame",
    "m.",
    "mme",
    "mme.",
    "mlle",
    "señor",
    "señora",
    "sr.",
    "sra.",
    "signor",
    "signora",
    "sig.",
    "sig.ra",
    "dott.",
    "heer",
    "mevrouw",
    "meneer",
    "dhr.",
    "mevr.",
    "mw.",
    "d.",
    "dña.",
    "doña",
    "don",
    "sig.na",
    "sig.ra",
    "prof.",
];

/// Cue words that only introduce a name when the name is in the gazetteer as a person name
/// without being a common word (conjunctions and prepositions).
const WEAK_CUES: &[&str] = &[
    "to", "with", "and", "or", "by", "mit", "und", "oder", "von", "an", "für", "bei", "avec", "et",
    "ou", "par", "à", "pour", "chez", "con", "y", "o", "por", "para", "col", "e", "per", "presso",
    "met", "en", "of", "door", "voor", "aan", "a",
];

/// Words between a cue and a name that change nothing ("my flatmate is Will").
const COPULAS: &[&str] = &[
    "is",
    "was",
    "ist",
    "war",
    "heißt",
    "heisst",
    "est",
    "s'appelle",
    "es",
    "se",
    "llama",
    "è",
    "si",
    "chiama",
    "heet",
    "called",
    "named",
];

/// Particles that make the surname after them a name on their own ("van Dijk", "von Stein").
const SURNAME_PARTICLES: &[&str] = &["van", "von", "ten", "ter", "vom", "van't"];

/// Last words of a run of capitalised words that make it a place ("Rowan Hall").
const PLACE_SUFFIXES: &[&str] = &[
    "Hall",
    "House",
    "Court",
    "Cottage",
    "Lodge",
    "Farm",
    "Park",
    "Gardens",
    "Close",
    "Street",
    "Road",
    "Lane",
    "Way",
    "Avenue",
    "Centre",
    "Center",
    "Hotel",
    "Residence",
    "Tower",
    "Mews",
    "Place",
    "Square",
    "Building",
    "Station",
    "Airport",
    "Bridge",
];

/// Whether a word is a street's name ("Galenstraat" of "Jan van Galenstraat", "Goethestraße"):
/// a person's name before it names the street, not someone.
fn ends_like_a_street(word: &str) -> bool {
    let lower = word.to_lowercase();
    [
        "straat", "laan", "gracht", "kade", "plein", "singel", "dijk", "straße", "strasse",
        "gasse", "allee", "platz", "weg", "steeg",
    ]
    .iter()
    .any(|s| lower.len() > s.len() + 2 && lower.ends_with(s))
}

/// Words after which a capitalised word is a place, not a person.
const PLACE_WORDS: &[&str] = &[
    "in", "nach", "aus", "im", "from", "at", "à", "en", "naar", "uit", "te", "a", "da", "desde",
    "street", "straße", "rue", "via", "calle", "straat", "city", "stadt", "ville", "ciudad",
    "città", "stad",
];

/// Titles handled by the title pattern; they split running-text groups.
const TITLES: &[&str] = &[
    "Herr", "Herrn", "Frau", "Mr", "Mrs", "Ms", "Miss", "Dr", "Monsieur", "Madame", "Mme", "Mlle",
    "Señor", "Señora", "Sr", "Sra", "Signor", "Signora", "Sig", "Dott", "Heer", "Mevrouw",
    "Meneer", "Dhr", "Mevr", "Mw", "Don", "Doña", "Avv", "Ing", "Arch", "Prof", "Fam", "Familie",
    "Famille", "Famiglia", "Familia", "Sres", "Srta", "Dña", "Mag", "Dipl",
];

impl NameFinder {
    /// Names anywhere in running text: runs of capitalised words checked against the
    /// gazetteer, with the words before them as context.
    fn find_running(&self, text: &str, out: &mut Vec<Candidate>) {
        let mut group: Vec<(usize, usize)> = Vec::new();
        let mut last_end = 0;
        for m in self.token.find_iter(text) {
            let (start, mut end) = (m.start(), m.end());
            let word = m.as_str();
            if let Some(stem) = word.strip_suffix("'s").or_else(|| word.strip_suffix("’s")) {
                end = start + stem.len();
            }
            let joined = !group.is_empty() && only_particles_between(&text[last_end..start]);
            if !joined {
                self.judge_group(text, &group, out);
                group.clear();
            }
            if char_before(text, start).is_some_and(|c| {
                c.is_alphanumeric() || matches!(c, '@' | '/' | '.' | '_' | '-' | '=' | '#')
            }) || text[end..].starts_with(['@', '.'].as_slice())
                && text[end..]
                    .chars()
                    .nth(1)
                    .is_some_and(char::is_alphanumeric)
            {
                self.judge_group(text, &group, out);
                group.clear();
                last_end = m.end();
                continue;
            }
            let bare = word.trim_end_matches(['.']);
            if NOT_NAMES.contains(&bare) || TITLES.contains(&bare) {
                self.judge_group(text, &group, out);
                group.clear();
                last_end = m.end();
                continue;
            }
            group.push((start, end));
            last_end = m.end();
            if end != m.end() {
                // A possessive ends the name.
                self.judge_group(text, &group, out);
                group.clear();
            }
        }
        self.judge_group(text, &group, out);
    }

    fn judge_group(&self, text: &str, group: &[(usize, usize)], out: &mut Vec<Candidate>) {
        let Some(&(first_start, _)) = group.first() else {
            return;
        };
        let flags: Vec<u8> = group
            .iter()
            .take(3)
            .map(|&(s, e)| word_flags(&text[s..e]))
            .collect();
        let cue = cue_before(text, first_start);
        let sentence_start = text[..first_start]
            .trim_end_matches([' ', '\t'])
            .chars()
            .next_back()
            .is_none_or(|c| matches!(c, '.' | '!' | '?' | '\n' | ':' | '>' | '"' | '«' | '“'));
        if group.len() >= 2 && flags[0] == 0 && cue == Cue::None {
            // "Yesterday Priya Raman": the unknown first word is not part of the name.
            return self.judge_group(text, &group[1..], out);
        }
        let n = flags.len();
        let group_end = group[n - 1].1;
        let last_word = &text[group[n - 1].0..group_end];
        // "Baker & Mills Solicitors": a firm.
        let after = &text[group_end..];
        let firm = [
            " &", " and Co", " S.r.l", " Srl", " S.p.A", " SpA", " GmbH", " AG", " KG", " Ltd",
            " Limited", " LLP", " B.V.", " BV", " N.V.", " S.L.", " SL", " S.A.", " SA", " SARL",
            " SAS", " e.K.", " Inc",
        ]
        .iter()
        .any(|f| {
            after.starts_with(f)
                && after[f.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() || f.ends_with('.'))
        });
        if firm
            || PLACE_SUFFIXES.contains(&last_word)
            || ends_like_a_street(last_word)
            || beside_date_or_postcode(text, first_start, group_end)
        {
            return;
        }
        if group.len() == 2
            && flags[0] == 0
            && flags[1] & LAST != 0
            && flags[1] & WORD == 0
            && !sentence_start
        {
            // "Tunde Bello": a first name the gazetteer does not know before a surname.
            push_running(text, first_start, group[1].1, out);
            return;
        }
        // A product or a place in quotes: « La Rochelle », "Rossi Lino".
        let quoted = char_before(text, first_start).is_some_and(|c| "\"«“„'".contains(c))
            && text[group_end..]
                .chars()
                .next()
                .is_some_and(|c| "\"»”“'".contains(c));
        if quoted && cue == Cue::None {
            return;
        }
        let names = |f: u8| f & (FIRST | LAST) != 0;
        let clean = |f: u8| names(f) && f & WORD == 0;
        if n >= 2 {
            let (f0, fl) = (flags[0], flags[n - 1]);
            let last_end = group[n - 1].1;
            let whole = (f0 & FIRST != 0 && names(fl) && (clean(f0) || clean(fl)))
                || (cue == Cue::Strong && (names(f0) || names(fl)))
                || (cue == Cue::Weak && (clean(f0) || clean(fl)))
                || (clean(f0) && f0 & FIRST != 0 && fl == 0);
            if whole {
                push_running(text, first_start, last_end, out);
                return;
            }
        }
        // Judge the words one by one.
        for (i, &(s, e)) in group.iter().enumerate() {
            let f = flags
                .get(i)
                .copied()
                .unwrap_or_else(|| word_flags(&text[s..e]));
            let cue = if i == 0 { cue } else { Cue::None };
            let from = particles_before(text, s);
            let surname_particle = text[from..s]
                .split_whitespace()
                .next()
                .is_some_and(|w| SURNAME_PARTICLES.iter().any(|p| p.eq_ignore_ascii_case(w)));
            // "und de Jansen's lijn": an article between the cue and the word.
            let via_article = from < s && !surname_particle;
            let ok = match cue {
                // "my flatmate is Will", "meine Frau Resi": after a person word, any
                // capitalised word that is not a known non-name.
                Cue::Strong => names(f) || (f == 0 && i == 0 && !sentence_start && !via_article),
                Cue::Weak => clean(f) && !via_article,
                Cue::None => {
                    // "De Linde", « La Rochelle », "Del Mar": a capitalised article makes a
                    // place or a thing.
                    let article = text[from..s]
                        .split_whitespace()
                        .next()
                        .is_some_and(|w| w.chars().next().is_some_and(char::is_uppercase));
                    !after_place_word(text, from)
                        && !article
                        && ((f & FIRST != 0 && f & WORD == 0)
                            || (f & LAST != 0
                                && (surname_particle || initials_before(text, s) < s)))
                }
            };
            if ok {
                push_running(text, s, e, out);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cue {
    None,
    Weak,
    Strong,
}

/// Whether the gap between two capitalised words is one space, or particles between spaces
/// ("Sander de Vries", "Ludwig van der Berg").
fn only_particles_between(gap: &str) -> bool {
    if gap == " " || gap == "\t" {
        return true;
    }
    if !gap.starts_with(' ') || !gap.ends_with(' ') {
        return false;
    }
    let words: Vec<&str> = gap.split(' ').filter(|w| !w.is_empty()).collect();
    !words.is_empty()
        && words.len() <= 3
        && gap.split(' ').filter(|w| w.is_empty()).count() == 2
        && words
            .iter()
            .all(|w| is_particle(w) && !["e", "y", "in", "op", "het", "el", "lo"].contains(w))
}

fn word_flags(word: &str) -> u8 {
    let f = gazetteer::lookup(word);
    if f != 0 || !word.contains('-') {
        return f;
    }
    // "Jean-Luc", "Müller-Lüdenscheidt": a name when its first part is one.
    word.split('-').next().map_or(0, gazetteer::lookup)
}

/// The context word right before a name (after an optional comma or colon).
fn cue_before(text: &str, start: usize) -> Cue {
    let start = particles_before(text, start);
    let ctx = context_before(text, start, 40);
    let line = ctx.rsplit('\n').next().unwrap_or("");
    let trimmed = line
        .trim_end()
        .trim_end_matches(['"', '«', '“', '„', '\''])
        .trim_end()
        .trim_end_matches([',', ':'])
        .trim_end();
    let mut words = trimmed
        .rsplit([' ', '\t', '('])
        .map(|w| w.trim_start_matches(['"', '«', '“']));
    let mut last = words.next().unwrap_or("");
    // "my flatmate is Will", "mi vecino se llama Pablo"
    for _ in 0..2 {
        if COPULAS.contains(&last) {
            last = words.next().unwrap_or("");
        }
    }
    if last.is_empty() {
        return Cue::None;
    }
    if WEAK_CUES.contains(&last) {
        Cue::Weak
    } else if PERSON_CUES.contains(&last) {
        Cue::Strong
    } else {
        Cue::None
    }
}

fn after_place_word(text: &str, start: usize) -> bool {
    let ctx = context_before(text, start, 20);
    let last = ctx
        .trim_end()
        .rsplit([' ', '\t', '\n'])
        .next()
        .unwrap_or("");
    let last = last.trim_start_matches(['«', '"', '“', '(']);
    // "La Rochelle", "San Sebastián", "« Le Marais »": a place or a product.
    PLACE_WORDS.contains(&last)
        || [
            "la", "le", "les", "san", "santa", "saint", "sainte", "st.", "st", "l'", "el",
        ]
        .contains(&last)
}

/// Where the particles and initials right before `start` begin ("van der " of "van der
/// Berg", "K. de " of "K. de Wit", "Da " of "Da Silva"); `start` when there are none.
fn particles_before(text: &str, start: usize) -> usize {
    let mut at = start;
    let mut words = 0;
    loop {
        let head = &text[..at];
        let Some(rest) = head.strip_suffix(' ') else {
            break;
        };
        let word_start = rest.rfind([' ', '\t', '\n', '(', ',']).map_or(0, |i| i + 1);
        let word = &rest[word_start..];
        let initial = word.len() == 2
            && word.ends_with('.')
            && word.chars().next().is_some_and(char::is_uppercase);
        let particle = is_particle(word) && !["e", "y", "in", "op", "et"].contains(&word);
        if (particle || (initial && words > 0)) && words < 4 && word_start < at {
            at = word_start;
            words += 1;
        } else {
            break;
        }
    }
    at
}

/// Where initials right before `start` begin ("R.J. " of "R.J. Bakker", "F. Z. " of
/// "F. Z. Benjelloun"); `start` when there are none.
fn initials_before(text: &str, start: usize) -> usize {
    let mut at = start;
    loop {
        let head = &text[..at];
        let head = head.strip_suffix(' ').unwrap_or(head);
        let b = head.as_bytes();
        let n = b.len();
        let initial = n >= 2
            && b[n - 1] == b'.'
            && b[n - 2].is_ascii_uppercase()
            && (n == 2 || !b[n - 3].is_ascii_alphanumeric());
        if !initial {
            break;
        }
        at = n - 2;
    }
    at
}

/// A capitalised word right after a day number or before a year ("10 Mar 2026") or a postcode
/// ("Ely CB7 4XA", "75002 Paris") is a month or a town.
fn beside_date_or_postcode(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].trim_end_matches(' ');
    let digits_before = before.bytes().rev().take_while(u8::is_ascii_digit).count();
    let after = text[end..].trim_start_matches([' ', ',']);
    let b = after.as_bytes();
    let year_after = b.len() >= 4
        && (b.starts_with(b"19") || b.starts_with(b"20"))
        && b[..4].iter().all(u8::is_ascii_digit)
        && b.get(4).is_none_or(|c| !c.is_ascii_alphanumeric())
        && !(b.get(4) == Some(&b' ') && b.get(5).is_some_and(u8::is_ascii_digit));
    let uk_postcode_after = b.len() >= 3
        && b[0].is_ascii_uppercase()
        && (b[1].is_ascii_digit() || (b[1].is_ascii_uppercase() && b[2].is_ascii_digit()));
    (digits_before > 0 && before.len() < start) || year_after || uk_postcode_after
}

fn push_running(text: &str, start: usize, end: usize, out: &mut Vec<Candidate>) {
    if text[start..end].chars().count() < 2 {
        return;
    }
    let start = initials_before(text, particles_before(text, start));
    out.push(Candidate {
        kind: PiiKind::Name,
        start,
        end,
        tier: TIER_HEURISTIC,
    });
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
