//! Token-like text redacted and long text cut, for whatever keeps or logs what a client sent
//! (the request's log line here, the journal's entries): a JWT or a `Bearer` credential becomes
//! [`REDACTED`], and every kept text has a bound in bytes, cut on a character boundary.

/// What a redacted credential reads as.
pub const REDACTED: &str = "[redacted]";

fn token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Text with token-like parts replaced by [`REDACTED`]: JWTs (base64url segments joined by
/// dots, the first a JSON object: `eyJ...`) and the credential after `Bearer `.
pub fn redact_text(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    // `Bearer ` ends in a space, and the values kept have few: look for `bearer` only before
    // each space.
    let has_bearer = || {
        bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b' ' && i >= 6 && bytes[i - 6..i].eq_ignore_ascii_case(b"bearer"))
    };
    if !text.contains("eyJ") && !has_bearer() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"eyJ") && (i == 0 || !token_char(bytes[i - 1])) {
            let mut end = i;
            while end < bytes.len() && (token_char(bytes[end]) || bytes[end] == b'.') {
                end += 1;
            }
            let run = &text[i..end];
            if run.contains('.') && run.len() >= 16 {
                out.push_str(REDACTED);
                i = end;
                continue;
            }
        }
        if i + 7 <= bytes.len() && bytes[i..i + 7].eq_ignore_ascii_case(b"bearer ") {
            let mut start = i + 7;
            while start < bytes.len() && bytes[start] == b' ' {
                start += 1;
            }
            let mut end = start;
            while end < bytes.len() && !bytes[end].is_ascii_whitespace() && bytes[end] != b'"' {
                end += 1;
            }
            if end > start {
                out.push_str(&text[i..i + 7]);
                out.push_str(REDACTED);
                i = end;
                continue;
            }
        }
        let c = text[i..].chars().next().expect("inside the text");
        out.push(c);
        i += c.len_utf8();
    }
    std::borrow::Cow::Owned(out)
}

/// The longest start of `text` of at most `limit` bytes that ends on a character boundary, and
/// whether anything was cut.
pub fn cut_to(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// A short text field (a path, a query, a header value): redacted, then cut to `limit` bytes.
pub fn keep_text(text: &str, limit: usize) -> Box<str> {
    let r = redact_text(text);
    cut_to(&r, limit).0.into()
}
