//! Everything the CLI prints goes through here. `println!`, `print!` and
//! `eprintln!` are shadowed in the crate (this module is declared first), so
//! no print site can panic on a closed pipe or pass terminal escapes from the
//! data (a deployment named `ESC ]0;…`) to the terminal.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the reader of stdout went away (`aibomdb export … | head`): later
/// output is dropped, while the command still runs to its own exit code, so a
/// gate's verdict never depends on whether anyone read the table.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// The first stdout failure that is not a closed pipe (a full disk behind a
/// redirect): reported at exit as an internal failure.
static STDOUT_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

macro_rules! print {
    ($($arg:tt)*) => { $crate::output::stdout(&format!($($arg)*)) };
}

macro_rules! println {
    () => { $crate::output::stdout("\n") };
    ($($arg:tt)*) => { $crate::output::stdout(&format!("{}\n", format_args!($($arg)*))) };
}

macro_rules! eprintln {
    ($($arg:tt)*) => { $crate::output::stderr(&format!("{}\n", format_args!($($arg)*))) };
}

/// Writes `text` to stdout, control characters escaped; never panics.
pub(crate) fn stdout(text: &str) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let text = escape_controls(text);
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut slot = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(e);
        }
    }
}

/// Writes `text` to stderr, control characters escaped. A closed stderr
/// leaves nowhere to report anything, so its errors are dropped.
pub(crate) fn stderr(text: &str) {
    let _ = std::io::stderr().write_all(escape_controls(text).as_bytes());
}

/// A stdout failure other than a closed pipe, if one happened.
pub(crate) fn take_stdout_error() -> Option<std::io::Error> {
    STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
}

/// True for what a terminal would act on rather than show: C0 controls but
/// newline and tab, DEL, C1 controls (8-bit CSI/OSC), and the bidirectional
/// overrides that reorder what is shown ("Trojan Source").
pub(crate) fn is_hostile(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every hostile character written as a visible escape, `\u001b`.
/// That is JSON's own escape, and JSON can only hold such a character inside a
/// string (serde_json escapes C0 there itself, not DEL, C1 or bidi controls),
/// so JSON output stays valid and decodes to the same text.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_hostile) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hostile(c) {
            // Every hostile character is in the BMP: four digits suffice.
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn escapes_reach_the_terminal_only_as_text() {
        assert_eq!(
            escape_controls("a\u{1b}]0;owned\u{7}b\u{1b}[31m"),
            "a\\u001b]0;owned\\u0007b\\u001b[31m"
        );
        assert_eq!(
            escape_controls("\u{9b}31m\u{202e}x\r\u{7f}"),
            "\\u009b31m\\u202ex\\u000d\\u007f"
        );
        assert_eq!(escape_controls("plain\ttext\n"), "plain\ttext\n");
        // JSON in which serde_json leaves C1 and bidi controls raw stays JSON.
        let raw = "\u{9b}\u{202e}\\\u{85}";
        let json = serde_json::to_string(&raw).unwrap();
        let back: String = serde_json::from_str(&escape_controls(&json)).unwrap();
        assert_eq!(back, raw);
    }
}
