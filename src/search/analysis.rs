//! Text analysis for EU shop mail: accent folding, German umlaut spellings, per-language
//! stemming, language detection, and the "code" terms that make order numbers, SKUs,
//! tracking codes and email addresses findable whole and in parts.
//!
//! Analyzers registered on the index:
//! - [`PLAIN`]: words, lower-cased and accent-folded; for words with umlauts or
//!   `ae`/`oe`/`ue` it also emits the other German spellings at the same position, so
//!   "Müller" is found by "müller", "muller" and "mueller" (and "Mueller" by "Müller").
//! - [`PLAIN_QUERY`]: the same without the extra spellings (used for query text).
//! - one stemming analyzer per [`Lang`]: lower-case, Snowball stemmer, then accent folding.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token,
    TokenFilter, TokenStream, Tokenizer, TokenizerManager,
};

/// Name of the indexing analyzer of the plain (unstemmed) text field.
pub(crate) const PLAIN: &str = "lethe_plain";
/// Name of the query analyzer for the plain text field.
pub(crate) const PLAIN_QUERY: &str = "lethe_plain_query";
/// Words longer than this many bytes are not indexed as words (codes still are).
const MAX_WORD_BYTES: usize = 40;
/// Code candidates longer than this are ignored (long URLs and the like).
const MAX_CODE_BYTES: usize = 120;
/// At most this many parts of one code are combined into sub-codes.
const MAX_CODE_PARTS: usize = 10;
/// Language detection looks at most at this many bytes of subject and body.
const DETECT_BYTES: usize = 2_000;

/// The languages with a stemmed field. Every document is stemmed in exactly one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English
    En,
    /// German
    De,
    /// French
    Fr,
    /// Spanish
    Es,
    /// Italian
    It,
    /// Dutch
    Nl,
}

impl Lang {
    /// All supported languages, in field order.
    pub const ALL: [Lang; 6] = [Lang::En, Lang::De, Lang::Fr, Lang::Es, Lang::It, Lang::Nl];

    /// ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::It => "it",
            Lang::Nl => "nl",
        }
    }

    /// Parses an ISO 639-1 code.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Position in [`Lang::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Name of the stemmed text field of this language.
    pub(crate) fn field_name(self) -> &'static str {
        match self {
            Lang::En => "text_en",
            Lang::De => "text_de",
            Lang::Fr => "text_fr",
            Lang::Es => "text_es",
            Lang::It => "text_it",
            Lang::Nl => "text_nl",
        }
    }

    /// Name of the stemming analyzer of this language.
    pub(crate) fn analyzer_name(self) -> &'static str {
        match self {
            Lang::En => "lethe_stem_en",
            Lang::De => "lethe_stem_de",
            Lang::Fr => "lethe_stem_fr",
            Lang::Es => "lethe_stem_es",
            Lang::It => "lethe_stem_it",
            Lang::Nl => "lethe_stem_nl",
        }
    }

    fn stemmer_language(self) -> Language {
        match self {
            Lang::En => Language::English,
            Lang::De => Language::German,
            Lang::Fr => Language::French,
            Lang::Es => Language::Spanish,
            Lang::It => Language::Italian,
            Lang::Nl => Language::Dutch,
        }
    }

    fn from_whatlang(lang: whatlang::Lang) -> Option<Lang> {
        match lang {
            whatlang::Lang::Eng => Some(Lang::En),
            whatlang::Lang::Deu => Some(Lang::De),
            whatlang::Lang::Fra => Some(Lang::Fr),
            whatlang::Lang::Spa => Some(Lang::Es),
            whatlang::Lang::Ita => Some(Lang::It),
            whatlang::Lang::Nld => Some(Lang::Nl),
            _ => None,
        }
    }
}

/// Detects the language of a document among the six supported ones.
pub(crate) struct LanguageDetector {
    detector: whatlang::Detector,
}

impl LanguageDetector {
    pub(crate) fn new() -> Self {
        let allow = vec![
            whatlang::Lang::Eng,
            whatlang::Lang::Deu,
            whatlang::Lang::Fra,
            whatlang::Lang::Spa,
            whatlang::Lang::Ita,
            whatlang::Lang::Nld,
        ];
        LanguageDetector {
            detector: whatlang::Detector::with_allowlist(allow),
        }
    }

    /// The language of `subject` + `body`; English when nothing can be told.
    ///
    /// Function words decide first (reliable even for short mails, where trigram
    /// detection often confuses English with Dutch); `whatlang` breaks ties.
    pub(crate) fn detect(&self, subject: &str, body: &str) -> Lang {
        let sample = sample(subject, body);
        if let Some(lang) = by_function_words(&sample) {
            return lang;
        }
        self.detector
            .detect_lang(&sample)
            .and_then(Lang::from_whatlang)
            .unwrap_or(Lang::En)
    }

    /// The language of `subject` + `body` when it can be told: function words, or a guess
    /// `whatlang` itself calls reliable (a short "Hi" is nobody's language).
    pub(crate) fn detect_known(&self, subject: &str, body: &str) -> Option<Lang> {
        let sample = sample(subject, body);
        by_function_words(&sample).or_else(|| {
            self.detector
                .detect(&sample)
                .filter(whatlang::Info::is_reliable)
                .and_then(|info| Lang::from_whatlang(info.lang()))
        })
    }
}

/// What detection looks at: the subject and the start of the body.
fn sample(subject: &str, body: &str) -> String {
    let mut sample = String::with_capacity(DETECT_BYTES + subject.len() + 1);
    sample.push_str(subject);
    sample.push('\n');
    sample.push_str(truncate_at_char(body, DETECT_BYTES));
    sample
}

/// Counts function words per language; `Some` when one language clearly leads.
fn by_function_words(sample: &str) -> Option<Lang> {
    let mut counts = [0u32; 6];
    let mut word = String::with_capacity(16);
    for w in sample.split(|c: char| !c.is_alphanumeric()) {
        if w.is_empty() || w.len() > 10 {
            continue;
        }
        word.clear();
        word.extend(w.chars().flat_map(char::to_lowercase));
        let mask = function_word_langs(&word);
        for (i, count) in counts.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *count += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..6).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
    let (best, second) = (counts[order[0]], counts[order[1]]);
    (best >= 2 && best > second).then(|| Lang::ALL[order[0]])
}

/// Bit mask (in [`Lang::ALL`] order) of the languages in which `w` is a common function word.
fn function_word_langs(w: &str) -> u8 {
    const EN: u8 = 1;
    const DE: u8 = 2;
    const FR: u8 = 4;
    const ES: u8 = 8;
    const IT: u8 = 16;
    const NL: u8 = 32;
    match w {
        "the" | "and" | "you" | "your" | "my" | "i" | "have" | "with" | "this" | "that"
        | "please" | "would" | "not" | "for" | "of" | "it" | "was" | "thanks" | "thank" => EN,
        "is" => EN | NL,
        "der" | "das" | "und" | "ist" | "ich" | "nicht" | "mit" | "sie" | "bitte" | "mein"
        | "meine" | "ein" | "eine" | "zu" | "auf" | "für" | "haben" | "wir" | "den" | "dem"
        | "von" | "noch" | "danke" | "habe" => DE,
        "die" => DE | NL,
        "le" | "les" | "et" | "est" | "je" | "vous" | "pas" | "une" | "des" | "mon" | "ma"
        | "mes" | "pour" | "avec" | "merci" | "dans" | "sur" | "ne" | "au" | "du" | "votre" => FR,
        "la" => FR | ES | IT,
        "que" => FR | ES,
        "el" | "los" | "las" | "y" | "es" | "mi" | "por" | "con" | "una" | "gracias" | "para"
        | "pero" | "se" | "muy" | "está" | "mis" | "su" | "hola" => ES,
        "no" => ES | IT,
        "il" | "gli" | "e" | "è" | "che" | "di" | "non" | "per" | "mio" | "mia" | "grazie"
        | "sono" | "della" | "ho" | "ciao" => IT,
        "del" => ES | IT,
        "de" => FR | ES | NL,
        "het" | "een" | "en" | "ik" | "niet" | "mijn" | "met" | "voor" | "van" | "bedankt"
        | "graag" | "dat" | "zijn" | "wij" | "u" | "uw" | "op" | "hallo" => NL,
        _ => 0,
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Registers all Lethe analyzers on a tokenizer manager.
pub(crate) fn register_analyzers(manager: &TokenizerManager) {
    manager.register(PLAIN, plain_analyzer(true));
    manager.register(PLAIN_QUERY, plain_analyzer(false));
    for lang in Lang::ALL {
        manager.register(lang.analyzer_name(), stem_analyzer(lang));
    }
}

/// The plain-field analyzer; `variants` adds the other German spellings of each word.
pub(crate) fn plain_analyzer(variants: bool) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .filter(EuFold { variants })
        .build()
}

/// The stemming analyzer of one language.
pub(crate) fn stem_analyzer(lang: Lang) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(lang.stemmer_language()))
        .filter(EuFold { variants: false })
        .build()
}

/// Runs `analyzer` over `text` and returns the token texts.
pub(crate) fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// Lower-cases and folds accents: "Crème Brûlée" → "creme brulee", "Straße" → "strasse".
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

/// Appends the lower-cased, accent-folded form of `text` to `out`.
pub(crate) fn fold_into(text: &str, out: &mut String) {
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        for lc in c.to_lowercase() {
            match fold_char(lc) {
                Some(s) => out.push_str(s),
                None => out.push(lc),
            }
        }
    }
}

/// The ASCII replacement of a lower-case Latin letter with diacritics.
fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'č' | 'ċ' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// The other spellings of a lower-cased word under German conventions:
/// umlauts written out ("müller" → "mueller") and written-out umlauts folded
/// ("mueller" → "muller"). Each returned spelling differs from `folded`.
pub(crate) fn spelling_variants(lower: &str, folded: &str, out: &mut Vec<String>) {
    if lower.contains(['ä', 'ö', 'ü']) {
        let mut translit = String::with_capacity(lower.len() + 2);
        for c in lower.chars() {
            match c {
                'ä' => translit.push_str("ae"),
                'ö' => translit.push_str("oe"),
                'ü' => translit.push_str("ue"),
                other => fold_into(other.encode_utf8(&mut [0; 4]), &mut translit),
            }
        }
        if translit != folded {
            out.push(translit);
        }
    }
    if folded.contains("ae") || folded.contains("oe") || folded.contains("ue") {
        let short = folded
            .replace("ae", "a")
            .replace("oe", "o")
            .replace("ue", "u");
        if short != folded && !out.contains(&short) {
            out.push(short);
        }
    }
}

/// Token filter: accent folding, optionally plus the German spelling variants emitted at the
/// same position. Expects lower-cased tokens.
#[derive(Clone, Copy)]
pub(crate) struct EuFold {
    variants: bool,
}

impl TokenFilter for EuFold {
    type Tokenizer<T: Tokenizer> = EuFoldFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> EuFoldFilter<T> {
        EuFoldFilter {
            inner: tokenizer,
            variants: self.variants,
        }
    }
}

#[derive(Clone)]
pub(crate) struct EuFoldFilter<T> {
    inner: T,
    variants: bool,
}

impl<T: Tokenizer> Tokenizer for EuFoldFilter<T> {
    type TokenStream<'a> = EuFoldStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        EuFoldStream {
            tail: self.inner.token_stream(text),
            variants: self.variants,
            pending: Vec::new(),
            token: Token::default(),
        }
    }
}

pub(crate) struct EuFoldStream<S> {
    tail: S,
    variants: bool,
    pending: Vec<String>,
    token: Token,
}

impl<S: TokenStream> TokenStream for EuFoldStream<S> {
    fn advance(&mut self) -> bool {
        if let Some(variant) = self.pending.pop() {
            self.token.text = variant;
            return true;
        }
        if !self.tail.advance() {
            return false;
        }
        let src = self.tail.token();
        self.token.offset_from = src.offset_from;
        self.token.offset_to = src.offset_to;
        self.token.position = src.position;
        self.token.position_length = src.position_length;
        self.token.text.clear();
        if src.text.is_ascii() {
            self.token.text.push_str(&src.text);
        } else {
            fold_into(&src.text, &mut self.token.text);
        }
        if self.variants {
            spelling_variants(&src.text, &self.token.text, &mut self.pending);
        }
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Splits a candidate code into its alphanumeric parts (byte ranges).
fn alnum_parts(s: &str) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(st) = start.take() {
            parts.push((st, i));
        }
    }
    if let Some(st) = start {
        parts.push((st, s.len()));
    }
    parts
}

/// Trims everything that is not alphanumeric from both ends.
fn trim_non_alnum(s: &str) -> &str {
    s.trim_matches(|c: char| !c.is_alphanumeric())
}

/// The code form of one query word ("ORD-2024-00123" → "ord-2024-00123"), when the word
/// consists of two or more alphanumeric parts; `None` for plain words.
pub(crate) fn code_of_word(word: &str) -> Option<String> {
    let trimmed = trim_non_alnum(word);
    let folded = fold(trimmed);
    (alnum_parts(&folded).len() >= 2).then_some(folded)
}

/// The alphanumeric parts of a word, folded ("anna.schmidt@example.de" → anna, schmidt, …).
pub(crate) fn word_parts(word: &str) -> Vec<String> {
    let folded = fold(word);
    alnum_parts(&folded)
        .into_iter()
        .map(|(a, b)| folded[a..b].to_string())
        .collect()
}

/// Appends the code terms of `text`: for every whitespace-separated chunk made of two or more
/// alphanumeric parts ("ORD-2024-00123", "anna.schmidt@example.de"), every run of two or more
/// consecutive parts with their original separators, folded: "ord-2024", "2024-00123",
/// "ord-2024-00123". Single parts are words and live in the plain field.
pub(crate) fn code_terms(text: &str, out: &mut Vec<String>) {
    for chunk in text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')'))
    {
        let chunk = trim_non_alnum(chunk);
        if chunk.len() > MAX_CODE_BYTES || chunk.is_empty() {
            continue;
        }
        if chunk.chars().all(char::is_alphanumeric) {
            continue;
        }
        let folded = fold(chunk);
        let parts = alnum_parts(&folded);
        if parts.len() < 2 {
            continue;
        }
        let n = parts.len().min(MAX_CODE_PARTS);
        for i in 0..n {
            for j in (i + 1)..n {
                out.push(folded[parts[i].0..parts[j].1].to_string());
            }
        }
        if parts.len() > MAX_CODE_PARTS {
            out.push(folded);
        }
    }
}

/// Terms for address-like filter fields (`from:`, `to:`): every chunk of the header value
/// whole, its single parts and its code sub-runs. "Anna Schmidt <anna.schmidt@example.de>"
/// yields "anna", "schmidt", "anna.schmidt@example.de", "example.de", "anna.schmidt", …
pub(crate) fn address_terms(text: &str, out: &mut Vec<String>) {
    for chunk in text
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')' | ',' | ';'))
    {
        let chunk = trim_non_alnum(chunk);
        if chunk.is_empty() || chunk.len() > MAX_CODE_BYTES {
            continue;
        }
        let folded = fold(chunk);
        for (a, b) in alnum_parts(&folded) {
            out.push(folded[a..b].to_string());
        }
        code_terms(chunk, out);
    }
    out.sort_unstable();
    out.dedup();
}

/// Normalizes a keyword value (tag, channel, status…): trimmed, lower-cased, folded.
pub(crate) fn keyword(value: &str) -> String {
    fold(value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("Crème Brûlée"), "creme brulee");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("MÜLLER"), "muller");
    }

    #[test]
    fn plain_emits_spellings() {
        let mut a = plain_analyzer(true);
        assert_eq!(analyze(&mut a, "Müller"), vec!["muller", "mueller"]);
        assert_eq!(analyze(&mut a, "Mueller"), vec!["mueller", "muller"]);
        let mut q = plain_analyzer(false);
        assert_eq!(analyze(&mut q, "Müller Straße"), vec!["muller", "strasse"]);
    }

    #[test]
    fn codes() {
        let mut out = Vec::new();
        code_terms("Bestellung (ORD-2024-00123).", &mut out);
        assert_eq!(out, vec!["ord-2024", "ord-2024-00123", "2024-00123"]);
        out.clear();
        code_terms("mail anna.schmidt@example.de now", &mut out);
        assert!(out.contains(&"anna.schmidt@example.de".to_string()));
        assert!(out.contains(&"anna.schmidt".to_string()));
        assert!(out.contains(&"example.de".to_string()));
    }

    #[test]
    fn a_language_is_told_only_when_it_can_be() {
        let d = LanguageDetector::new();
        assert_eq!(d.detect_known("Hi", "x"), None);
        assert_eq!(
            d.detect_known(
                "Rücksendung",
                "Ich möchte meine Bestellung zurückschicken, bitte."
            ),
            Some(Lang::De)
        );
        let written = [
            ("Hi", "x"),
            (
                "Retour",
                "Je voudrais retourner ma commande, s'il vous plaît.",
            ),
            (
                "Commande",
                "Elle n'est pas arrivée et je suis sans nouvelles.",
            ),
            ("Return", "I would like to return my order, please."),
        ];
        assert_eq!(crate::search::main_language(written), Some(Lang::Fr));
        assert_eq!(crate::search::main_language([("Hi", "x")]), None);
    }

    #[test]
    fn detection() {
        let d = LanguageDetector::new();
        assert_eq!(
            d.detect(
                "Rücksendung",
                "Ich möchte meine Bestellung zurückschicken, bitte."
            ),
            Lang::De
        );
        assert_eq!(
            d.detect("Return", "I would like to return my order, please."),
            Lang::En
        );
    }
}
