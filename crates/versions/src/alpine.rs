//! Alpine (apk): apk-tools' token-by-token comparison. A version is digits
//! separated by `.`, an optional letter, `_suffix[N]` parts (`alpha`, `beta`,
//! `pre`, `rc` sort before the release; `cvs`, `svn`, `git`, `hg`, `p` after),
//! and `-rN`. A component after a `.` with leading zeros compares as a fraction
//! (`1.01 < 1.1`). Malformed input ends the comparison where it goes wrong,
//! as apk does.

use std::cmp::Ordering;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Token {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Cursor<'a> {
    s: &'a [u8],
    kind: Token,
}

impl Cursor<'_> {
    /// Decides the kind of the next token from the separator ahead.
    fn next_kind(&mut self) {
        let old = self.kind;
        let mut n = Token::Invalid;
        if self.s.is_empty() {
            n = Token::End;
        } else if matches!(old, Token::Digit | Token::DigitOrZero) && self.s[0].is_ascii_lowercase() {
            n = Token::Letter;
        } else if old == Token::Letter && self.s[0].is_ascii_digit() {
            n = Token::Digit;
        } else if old == Token::Suffix && self.s[0].is_ascii_digit() {
            n = Token::SuffixNo;
        } else {
            match self.s[0] {
                b'.' => n = Token::DigitOrZero,
                b'_' => n = Token::Suffix,
                b'-' if self.s.len() > 1 && self.s[1] == b'r' => {
                    n = Token::RevisionNo;
                    self.s = &self.s[1..];
                }
                _ => {}
            }
            self.s = &self.s[1..];
        }
        if n < old
            && !((n == Token::DigitOrZero && old == Token::Digit)
                || (n == Token::Suffix && old == Token::SuffixNo)
                || (n == Token::Digit && old == Token::Letter))
        {
            n = Token::Invalid;
        }
        self.kind = n;
    }

    /// Reads the token of the current kind and returns its value.
    fn token(&mut self) -> i128 {
        if self.s.is_empty() {
            self.kind = Token::End;
            return 0;
        }
        let mut i = 0;
        let mut v: i128 = 0;
        let mut forced_next = None;
        match self.kind {
            Token::DigitOrZero if self.s[0] == b'0' => {
                while i < self.s.len() && self.s[i] == b'0' {
                    i += 1;
                }
                v = -(i as i128);
                forced_next = Some(Token::Digit);
            }
            Token::DigitOrZero | Token::Digit | Token::SuffixNo | Token::RevisionNo => {
                while i < self.s.len() && self.s[i].is_ascii_digit() {
                    v = v.saturating_mul(10).saturating_add(i128::from(self.s[i] - b'0'));
                    i += 1;
                }
            }
            Token::Letter => {
                v = i128::from(self.s[0]);
                i = 1;
            }
            Token::Suffix => {
                if let Some(k) = PRE.iter().position(|p| self.s.starts_with(p.as_bytes())) {
                    i = PRE[k].len();
                    v = k as i128 - PRE.len() as i128;
                } else if let Some(k) = POST.iter().position(|p| self.s.starts_with(p.as_bytes())) {
                    i = POST[k].len();
                    v = k as i128;
                } else {
                    self.kind = Token::Invalid;
                    return -1;
                }
            }
            _ => {
                self.kind = Token::Invalid;
                return -1;
            }
        }
        self.s = &self.s[i..];
        if self.s.is_empty() {
            self.kind = Token::End;
        } else if let Some(k) = forced_next.filter(|_| self.s[0].is_ascii_digit()) {
            self.kind = k;
        } else {
            self.next_kind();
        }
        v
    }
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let mut x = Cursor {
        s: a.trim().as_bytes(),
        kind: Token::Digit,
    };
    let mut y = Cursor {
        s: b.trim().as_bytes(),
        kind: Token::Digit,
    };
    let (mut xv, mut yv) = (0, 0);
    while x.kind == y.kind && x.kind != Token::End && x.kind != Token::Invalid && xv == yv {
        xv = x.token();
        yv = y.token();
    }
    match xv.cmp(&yv) {
        Ordering::Equal => {}
        o => return o,
    }
    if x.kind == y.kind {
        return Ordering::Equal;
    }
    // Equal so far: the longer one is greater, unless what follows is a
    // pre-release suffix.
    if x.kind == Token::Suffix {
        let mut t = Cursor { s: x.s, kind: x.kind };
        if t.token() < 0 {
            return Ordering::Less;
        }
    }
    if y.kind == Token::Suffix {
        let mut t = Cursor { s: y.s, kind: y.kind };
        if t.token() < 0 {
            return Ordering::Greater;
        }
    }
    y.kind.cmp(&x.kind)
}
