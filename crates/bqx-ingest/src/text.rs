//! Decoding bytes to text (UTF-8 with or without BOM, UTF-16 LE/BE) and line helpers.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::UnusableInput;

/// Decoded text plus what the SHA-256 still has to cover.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub text: String,
    /// Bytes of the original that precede `text` (a UTF-8 BOM), when `text` is the rest verbatim.
    pub prefix: &'static [u8],
    /// The digest, when it had to be computed from the original bytes (UTF-16).
    pub sha256: Option<String>,
}

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn sha256_parts(prefix: &[u8], rest: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(prefix);
    h.update(rest);
    hex::encode(h.finalize())
}

fn line_of_byte(bytes: &[u8], pos: usize) -> u64 {
    memchr::memchr_iter(b'\n', &bytes[..pos.min(bytes.len())]).count() as u64 + 1
}

/// Decodes a file's bytes; invalid text is unusable and names the first bad line.
pub(crate) fn decode(name: &str, mut bytes: Vec<u8>) -> Result<Decoded, UnusableInput> {
    let utf16 = if bytes.starts_with(&[0xFF, 0xFE]) {
        Some((encoding_rs::UTF_16LE, 2))
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        Some((encoding_rs::UTF_16BE, 2))
    } else if bytes.len() >= 4 && bytes[0] != 0 && bytes[1] == 0 && bytes[2] != 0 && bytes[3] == 0 {
        Some((encoding_rs::UTF_16LE, 0))
    } else if bytes.len() >= 4 && bytes[0] == 0 && bytes[1] != 0 && bytes[2] == 0 && bytes[3] != 0 {
        Some((encoding_rs::UTF_16BE, 0))
    } else {
        None
    };
    if let Some((enc, skip)) = utf16 {
        let sha = sha256_hex(&bytes);
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[skip..]);
        if had_errors {
            let pos = text.find('\u{FFFD}').unwrap_or(text.len());
            let line = text[..pos].matches('\n').count() as u64 + 1;
            return Err(UnusableInput::new(
                name,
                Some(line),
                format!("not valid {} text (malformed code units)", enc.name()),
            ));
        }
        return Ok(Decoded {
            text: text.into_owned(),
            prefix: &[],
            sha256: Some(sha),
        });
    }
    let prefix: &'static [u8] = if bytes.starts_with(UTF8_BOM) {
        bytes.drain(..3);
        UTF8_BOM
    } else {
        &[]
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Decoded {
            text,
            prefix,
            sha256: None,
        }),
        Err(e) => {
            let pos = e.utf8_error().valid_up_to();
            let line = line_of_byte(e.as_bytes(), pos);
            Err(UnusableInput::new(
                name,
                Some(line),
                format!(
                    "not valid UTF-8 text (byte offset {}); expected UTF-8, or UTF-16 with a BOM",
                    pos + prefix.len()
                ),
            ))
        }
    }
}

/// Strips a trailing `\r`.
#[inline]
pub(crate) fn strip_cr(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

#[inline]
pub(crate) fn is_blank(line: &str) -> bool {
    match line.as_bytes().first() {
        None => true,
        Some(c) if c.is_ascii_whitespace() => line.trim().is_empty(),
        Some(_) => false,
    }
}

/// A line of text with its 1-based number and byte range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<'a> {
    pub no: u64,
    pub text: &'a str,
    /// Byte offset just past this line's terminator.
    pub end: usize,
}

/// The first `n` non-blank lines (BOM already stripped).
pub(crate) fn first_lines(text: &str, n: usize) -> Vec<Line<'_>> {
    let mut out = Vec::with_capacity(n);
    let mut pos = 0;
    let mut no = 0;
    while pos < text.len() && out.len() < n {
        no += 1;
        let end = memchr::memchr(b'\n', &text.as_bytes()[pos..]).map_or(text.len(), |i| pos + i);
        let line = strip_cr(&text[pos..end]).trim_start_matches('\u{feff}');
        let next = (end + 1).min(text.len());
        if !is_blank(line) {
            out.push(Line {
                no,
                text: line,
                end: next,
            });
        }
        pos = if end == text.len() {
            text.len()
        } else {
            end + 1
        };
    }
    out
}

/// The raw text of the given 1-based lines, found in one pass.
pub(crate) fn fetch_lines(text: &str, wanted: &[u64]) -> HashMap<u64, String> {
    let mut wanted: Vec<u64> = wanted.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = HashMap::with_capacity(wanted.len());
    let mut it = wanted.into_iter().peekable();
    for (i, line) in text.split('\n').enumerate() {
        let no = i as u64 + 1;
        match it.peek() {
            None => break,
            Some(&w) if w == no => {
                out.insert(no, strip_cr(line).to_string());
                it.next();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_boms_and_reports_bad_lines() {
        let d = decode("f", b"\xEF\xBB\xBFa,b\n".to_vec()).unwrap();
        assert_eq!(d.text, "a,b\n");
        assert_eq!(
            sha256_parts(d.prefix, d.text.as_bytes()),
            sha256_hex(b"\xEF\xBB\xBFa,b\n")
        );
        let mut le = vec![0xFF, 0xFE];
        for u in "x\ny".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode("f", le).unwrap().text, "x\ny");
        let mut be = vec![0xFE, 0xFF];
        for u in "hé".encode_utf16() {
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(decode("f", be).unwrap().text, "hé");
        let err = decode("f.csv", b"ok\nok\nbad \xFF\n".to_vec()).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(
            err.to_string().starts_with("f.csv:3: not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn first_lines_skip_blanks_and_fetch_finds_lines() {
        let t = "\n\r\nA\r\n  \nB\nC";
        let l = first_lines(t, 2);
        assert_eq!((l[0].no, l[0].text), (3, "A"));
        assert_eq!((l[1].no, l[1].text), (5, "B"));
        let f = fetch_lines(t, &[6, 3]);
        assert_eq!(f[&3], "A");
        assert_eq!(f[&6], "C");
    }
}
