//! Streaming reader for deb822 files (Debian control-file syntax): stanzas of `Key: value` lines,
//! continuation lines indented, a blank line between stanzas. dpkg's status file and apt's
//! `Packages` indices are in this syntax.
//!
//! Invariant: memory does not grow with the input. Bytes are fed in chunks; only a line cut
//! between two chunks is carried over, and a stanza the [`Sink`] does not want is passed over
//! with a `\n\n` search rather than line by line.

use std::io::{self, Read};

use memchr::{memchr, memmem};

use super::fsroot::ReadError;

/// Bytes read at a time.
const CHUNK: usize = 64 * 1024;

/// What the scanner should do with the rest of a stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Nothing more is wanted from this stanza: jump to the blank line that ends it.
    Skip,
}

pub trait Sink {
    /// A single-line field of the current stanza (continuation lines are not passed on).
    fn field(&mut self, key: &[u8], value: &[u8]) -> Flow;
    /// The current stanza ended.
    fn end(&mut self);
}

/// Splits fed bytes into lines and stanzas. A line cut between two chunks is carried over; a
/// skipped stanza is passed over with a `\n\n` search rather than line by line.
pub struct Scanner<S> {
    sink: S,
    carry: Vec<u8>,
    blank_line: memmem::Finder<'static>,
    in_stanza: bool,
    skipping: bool,
    /// While skipping: the last byte seen was a newline.
    after_newline: bool,
    /// `\r\n` line ends: skipping by `\n\n` would not see the blank lines, so skipping is off.
    crlf: Option<bool>,
}

impl<S: Sink> Scanner<S> {
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            carry: Vec::new(),
            blank_line: memmem::Finder::new(b"\n\n"),
            in_stanza: false,
            skipping: false,
            after_newline: false,
            crlf: None,
        }
    }

    pub fn feed(&mut self, mut data: &[u8]) {
        if !self.carry.is_empty() && !self.skipping {
            let Some(end) = memchr(b'\n', data) else {
                self.carry.extend_from_slice(data);
                return;
            };
            self.carry.extend_from_slice(&data[..end]);
            let line = std::mem::take(&mut self.carry);
            self.line(&line);
            self.carry = line;
            self.carry.clear();
            data = &data[end + 1..];
        }
        loop {
            if self.skipping {
                if self.after_newline && data.first() == Some(&b'\n') {
                    data = &data[1..];
                    self.end_stanza();
                    continue;
                }
                match self.blank_line.find(data) {
                    Some(at) => {
                        data = &data[at + 2..];
                        self.end_stanza();
                        continue;
                    }
                    None => {
                        if let Some(&last) = data.last() {
                            self.after_newline = last == b'\n';
                        }
                        return;
                    }
                }
            }
            match memchr(b'\n', data) {
                Some(end) => {
                    self.line(&data[..end]);
                    data = &data[end + 1..];
                }
                None => {
                    self.carry.extend_from_slice(data);
                    return;
                }
            }
        }
    }

    pub fn finish(mut self) -> S {
        if !self.skipping && !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.line(&line);
        }
        if self.in_stanza {
            self.sink.end();
        }
        self.sink
    }

    fn end_stanza(&mut self) {
        self.skipping = false;
        self.in_stanza = false;
        self.sink.end();
    }

    fn line(&mut self, line: &[u8]) {
        let crlf = *self.crlf.get_or_insert(line.ends_with(b"\r"));
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| *b == b' ' || *b == b'\t') {
            if self.in_stanza {
                self.in_stanza = false;
                self.sink.end();
            }
            return;
        }
        if matches!(line[0], b' ' | b'\t' | b'#') {
            return;
        }
        let Some(colon) = memchr(b':', line) else {
            return;
        };
        self.in_stanza = true;
        let value = line[colon + 1..].trim_ascii();
        if self.sink.field(&line[..colon], value) == Flow::Skip && !crlf {
            self.skipping = true;
            self.after_newline = true;
        }
    }
}

/// Runs `reader` through a [`Scanner`] into `sink`.
pub fn scan<S: Sink>(mut reader: impl Read, path: &str, sink: S) -> Result<S, ReadError> {
    let mut scanner = Scanner::new(sink);
    let mut buf = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => scanner.feed(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::new(path, e)),
        }
    }
    Ok(scanner.finish())
}

/// A field value as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every event, so runs with different chunkings can be compared.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl Sink for Recorder {
        fn field(&mut self, key: &[u8], value: &[u8]) -> Flow {
            self.0.push(format!("{}={}", text(key), text(value)));
            if key == b"Package" && value.starts_with(b"skip") {
                Flow::Skip
            } else {
                Flow::Continue
            }
        }

        fn end(&mut self) {
            self.0.push("END".into());
        }
    }

    #[test]
    fn scanner_gives_the_same_events_for_any_chunking() {
        let input = "Package: a\nVersion: 1\nDescription: x\n long text\n .\n more\n\n\
                     Package: skip-me\nVersion: 2\nDescription: y\n\n\n\
                     Package: skip-too\n\n\
                     Package: b\nArchitecture:  all  \n\n\
                     Package: skip-last\nVersion: 3\n\n\
                     Package: c\nVersion: 4";
        let whole = {
            let mut s = Scanner::new(Recorder::default());
            s.feed(input.as_bytes());
            s.finish().0
        };
        assert_eq!(
            whole,
            [
                "Package=a",
                "Version=1",
                "Description=x",
                "END",
                "Package=skip-me",
                "END",
                "Package=skip-too",
                "END",
                "Package=b",
                "Architecture=all",
                "END",
                "Package=skip-last",
                "END",
                "Package=c",
                "Version=4",
                "END",
            ]
        );
        for size in 1..=9 {
            let mut s = Scanner::new(Recorder::default());
            for chunk in input.as_bytes().chunks(size) {
                s.feed(chunk);
            }
            assert_eq!(s.finish().0, whole, "chunks of {size}");
        }
        // CRLF files: blank lines are `\r\n`, so skipping falls back to line by line.
        let crlf = input.replace('\n', "\r\n");
        let mut s = Scanner::new(Recorder::default());
        for chunk in crlf.as_bytes().chunks(5) {
            s.feed(chunk);
        }
        assert_eq!(s.finish().0.iter().filter(|e| *e == "END").count(), 6);
    }
}
