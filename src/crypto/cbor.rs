//! A small CBOR decoder (RFC 8949) for what WebAuthn sends: the attestation object and the
//! COSE public key inside the authenticator data. Definite lengths only (CTAP2 encodes
//! canonically), nesting at most [`MAX_DEPTH`] deep, no item longer than its input: a hostile
//! input ends in an error, never a panic or a large allocation.

/// A decoded item. Tags are dropped (their content kept); floats and simple values other than
/// booleans and null are kept only as "other".
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Unsigned(u64),
    /// The value is `-1 - n`.
    Negative(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Bool(bool),
    Null,
    Other,
}

/// Why the input is not the CBOR expected.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed CBOR: {0}")]
pub struct CborError(pub &'static str);

const MAX_DEPTH: usize = 16;

impl Value {
    /// The integer, when it is one that fits an i64.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Unsigned(n) => i64::try_from(*n).ok(),
            Value::Negative(n) => i64::try_from(*n).ok().map(|n| -1 - n),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The entry of a map under the text key `key`.
    pub fn get_text_key(&self, key: &str) -> Option<&Value> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }

    /// The entry of a map under the integer key `key` (COSE keys use these).
    pub fn get_int_key(&self, key: i64) -> Option<&Value> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.as_i64() == Some(key))
            .map(|(_, v)| v)
    }

    fn entries(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }
}

/// Decodes one item from the start of `input`; the item and how many bytes it took.
pub fn decode_prefix(input: &[u8]) -> Result<(Value, usize), CborError> {
    let mut reader = Reader { input, at: 0 };
    let value = reader.item(0)?;
    Ok((value, reader.at))
}

/// Decodes `input`, which must be exactly one item.
pub fn decode(input: &[u8]) -> Result<Value, CborError> {
    let (value, used) = decode_prefix(input)?;
    if used != input.len() {
        return Err(CborError("bytes after the item"));
    }
    Ok(value)
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CborError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.input.len())
            .ok_or(CborError("truncated"))?;
        let bytes = &self.input[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        Ok(self.take(1)?[0])
    }

    /// The argument of a head whose low five bits are `info`.
    fn argument(&mut self, info: u8) -> Result<u64, CborError> {
        let width = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Err(CborError("indefinite length")),
            _ => return Err(CborError("reserved additional information")),
        };
        let bytes = self.take(width)?;
        Ok(bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
    }

    /// A length no larger than what is left of the input (each element takes a byte at least).
    fn length(&mut self, info: u8) -> Result<usize, CborError> {
        let n = self.argument(info)?;
        let left = (self.input.len() - self.at) as u64;
        if n > left {
            return Err(CborError("length past the end"));
        }
        usize::try_from(n).map_err(|_| CborError("length past the end"))
    }

    fn item(&mut self, depth: usize) -> Result<Value, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError("nested too deep"));
        }
        let head = self.byte()?;
        let (major, info) = (head >> 5, head & 0x1f);
        match major {
            0 => Ok(Value::Unsigned(self.argument(info)?)),
            1 => Ok(Value::Negative(self.argument(info)?)),
            2 => {
                let n = self.length(info)?;
                Ok(Value::Bytes(self.take(n)?.to_vec()))
            }
            3 => {
                let n = self.length(info)?;
                let text = std::str::from_utf8(self.take(n)?)
                    .map_err(|_| CborError("text is not UTF-8"))?;
                Ok(Value::Text(text.to_owned()))
            }
            4 => {
                let n = self.length(info)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.item(depth + 1)?);
                }
                Ok(Value::Array(items))
            }
            5 => {
                let n = self.length(info)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = self.item(depth + 1)?;
                    let value = self.item(depth + 1)?;
                    entries.push((key, value));
                }
                Ok(Value::Map(entries))
            }
            6 => {
                self.argument(info)?;
                self.item(depth + 1)
            }
            _ => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 | 23 => Ok(Value::Null),
                24 => self.take(1).map(|_| Value::Other),
                25 => self.take(2).map(|_| Value::Other),
                26 => self.take(4).map(|_| Value::Other),
                27 => self.take(8).map(|_| Value::Other),
                0..=19 => Ok(Value::Other),
                _ => Err(CborError("reserved simple value")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_items_webauthn_uses() {
        // {"fmt": "none", "attStmt": {}, "authData": h'0102'}
        let bytes = [
            0xa3, 0x63, b'f', b'm', b't', 0x64, b'n', b'o', b'n', b'e', 0x67, b'a', b't', b't',
            b'S', b't', b'm', b't', 0xa0, 0x68, b'a', b'u', b't', b'h', b'D', b'a', b't', b'a',
            0x42, 1, 2,
        ];
        let value = decode(&bytes).unwrap();
        assert_eq!(value.get_text_key("fmt").unwrap().as_text(), Some("none"));
        assert_eq!(value.get_text_key("attStmt"), Some(&Value::Map(vec![])));
        assert_eq!(
            value.get_text_key("authData").unwrap().as_bytes(),
            Some(&[1u8, 2][..])
        );
        // {1: 2, 3: -7, -1: 1}: a COSE key's head
        let cose = decode(&[0xa3, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01]).unwrap();
        assert_eq!(cose.get_int_key(3).unwrap().as_i64(), Some(-7));
        assert_eq!(cose.get_int_key(-1).unwrap().as_i64(), Some(1));
    }

    #[test]
    fn reports_how_much_of_the_input_an_item_took() {
        let (value, used) = decode_prefix(&[0x18, 0x64, 0xff, 0xff]).unwrap();
        assert_eq!((value, used), (Value::Unsigned(100), 2));
        assert_eq!(
            decode(&[0x01, 0x02]),
            Err(CborError("bytes after the item"))
        );
    }

    #[test]
    fn refuses_hostile_input_without_panicking() {
        // A byte string claiming 2^63 bytes, an array claiming a billion items, indefinite
        // lengths, deep nesting, cut-off input, bad UTF-8.
        let cases: [&[u8]; 7] = [
            &[0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0],
            &[0x9a, 0x3b, 0x9a, 0xca, 0x00],
            &[0x5f, 0x41, 0x00, 0xff],
            &[0x81; 40],
            &[0xa1, 0x01],
            &[0x62, 0xff, 0xfe],
            &[],
        ];
        for case in cases {
            assert!(decode(case).is_err(), "{case:?} was accepted");
        }
    }
}
