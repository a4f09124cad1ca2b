//! A scanner for the one shape the SDK writes per event: a flat JSON object whose
//! values are strings, numbers or null.
//!
//! Not a general JSON parser: a nested value under an unknown key is skipped (so a
//! newer SDK's extra fields do not break an older server), but a known field must
//! hold a scalar. Strings are unescaped into a caller's buffer, so a field costs one
//! copy and no allocation.

/// Where and why a payload is not JSON the SDK writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the line.
    pub at: usize,
    pub reason: &'static str,
}

pub type JsonResult<T> = std::result::Result<T, JsonError>;

/// One scalar value of the object, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Null,
    /// The raw text between the quotes (escapes not resolved yet), and whether it has any.
    Str {
        raw: &'a [u8],
        escaped: bool,
    },
    /// The number's text, checked against the JSON grammar.
    Num(&'a [u8]),
    Bool(bool),
    /// An object or array (skipped; only allowed under keys the caller does not know).
    Nested,
}

/// Walks `{"key": value, ...}` and calls `field(key, value)` for every member.
/// `key` is the raw key text (keys the SDK writes hold no escapes; an escaped key is
/// passed raw, so it matches no known field). Only whitespace may follow the object.
pub fn for_each_field<'a>(
    line: &'a [u8],
    mut field: impl FnMut(&'a [u8], Scalar<'a>, usize) -> JsonResult<()>,
) -> JsonResult<()> {
    let mut s = Scanner { s: line, i: 0 };
    s.ws();
    s.expect(b'{', "expected an object")?;
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            let (key, _) = s.string()?;
            s.ws();
            s.expect(b':', "expected ':' after a key")?;
            s.ws();
            let at = s.i;
            let value = s.value()?;
            field(key, value, at)?;
            s.ws();
            match s.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(s.error("expected ',' or '}'")),
            }
        }
    }
    s.ws();
    if s.i != line.len() {
        return Err(s.error("unexpected text after the object"));
    }
    Ok(())
}

/// Appends the unescaped text of a string's raw content to `out`.
pub fn unescape_into(raw: &[u8], at: usize, out: &mut Vec<u8>) -> JsonResult<()> {
    let err = |i: usize, reason| JsonError { at: at + i, reason };
    let mut i = 0;
    while i < raw.len() {
        let start = i;
        while i < raw.len() && raw[i] != b'\\' {
            i += 1;
        }
        out.extend_from_slice(&raw[start..i]);
        if i == raw.len() {
            break;
        }
        let Some(&escape) = raw.get(i + 1) else {
            return Err(err(i, "unterminated escape"));
        };
        i += 2;
        let byte = match escape {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hi = hex4(raw, i).ok_or_else(|| err(i, "bad \\u escape"))?;
                i += 4;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by an escaped low one.
                    if raw.get(i..i + 2) != Some(b"\\u") {
                        return Err(err(i, "lone surrogate in \\u escape"));
                    }
                    let lo = hex4(raw, i + 2).ok_or_else(|| err(i, "bad \\u escape"))?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(err(i, "lone surrogate in \\u escape"));
                    }
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(err(i, "lone surrogate in \\u escape"));
                } else {
                    hi
                };
                let ch = char::from_u32(code).ok_or_else(|| err(i, "bad \\u escape"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return Err(err(i - 1, "unknown escape")),
        };
        out.push(byte);
    }
    Ok(())
}

fn hex4(raw: &[u8], i: usize) -> Option<u32> {
    let digits = raw.get(i..i + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.i += 1;
        b
    }

    fn error(&self, reason: &'static str) -> JsonError {
        JsonError { at: self.i, reason }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> JsonResult<()> {
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    /// The raw content of a string at the cursor and whether it holds escapes.
    fn string(&mut self) -> JsonResult<(&'a [u8], bool)> {
        self.expect(b'"', "expected a string")?;
        let start = self.i;
        let mut escaped = false;
        loop {
            match self.next() {
                Some(b'"') => return Ok((&self.s[start..self.i - 1], escaped)),
                Some(b'\\') => {
                    escaped = true;
                    self.i += 1; // the escaped byte, whatever it is, does not end the string
                }
                Some(b) if b < 0x20 => {
                    self.i -= 1;
                    return Err(self.error("control character in a string"));
                }
                Some(_) => {}
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn value(&mut self) -> JsonResult<Scalar<'a>> {
        match self.peek() {
            Some(b'"') => {
                let (raw, escaped) = self.string()?;
                Ok(Scalar::Str { raw, escaped })
            }
            Some(b'n') => self.word(b"null", Scalar::Null),
            Some(b't') => self.word(b"true", Scalar::Bool(true)),
            Some(b'f') => self.word(b"false", Scalar::Bool(false)),
            Some(b'{' | b'[') => {
                self.skip_nested()?;
                Ok(Scalar::Nested)
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    fn word(&mut self, word: &[u8], value: Scalar<'a>) -> JsonResult<Scalar<'a>> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn number(&mut self) -> JsonResult<Scalar<'a>> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("bad number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("bad number"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("bad number"));
            }
            self.digits();
        }
        Ok(Scalar::Num(&self.s[start..self.i]))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    /// Skips an object or array, strings included, by bracket depth.
    fn skip_nested(&mut self) -> JsonResult<()> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Some(b'{' | b'[') => {
                    depth += 1;
                    self.i += 1;
                }
                Some(b'}' | b']') => {
                    depth -= 1;
                    self.i += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(_) => self.i += 1,
                None => return Err(self.error("unterminated object or array")),
            }
        }
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.at)
    }
}
