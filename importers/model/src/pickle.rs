//! A pickle opcode walker: lists what a pickle would import (GLOBAL,
//! STACK_GLOBAL, INST) without executing anything, modelled on Python's
//! `pickletools.genops`. Protocols 0–5. Bounded: a stream longer than the
//! input or an unknown opcode ends the scan with an error, never a panic.

use std::collections::{HashMap, HashSet};

use aibomdb_graph::PickleReport;

/// Imports a PyTorch checkpoint needs; anything else is unknown or dangerous.
const ALLOWED: &[&str] = &[
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._tensor._rebuild_from_type_v2",
    "torch.Size",
    "torch.device",
    "torch.BFloat16Storage",
    "torch.BoolStorage",
    "torch.ByteStorage",
    "torch.CharStorage",
    "torch.DoubleStorage",
    "torch.FloatStorage",
    "torch.HalfStorage",
    "torch.IntStorage",
    "torch.LongStorage",
    "torch.ShortStorage",
    "torch.storage._load_from_bytes",
    "torch.UntypedStorage",
    "torch.serialization._get_layout",
    "torch._utils._rebuild_qtensor",
    "torch.per_tensor_affine",
    "torch.qint8",
    "torch.int8",
    "torch.uint8",
    "torch.int32",
    "torch.int64",
    "torch.float64",
    "torch.bool",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "_codecs.encode",
    "torch.float16",
    "torch.float32",
    "torch.bfloat16",
    "numpy.core.multiarray._reconstruct",
    "numpy.ndarray",
    "numpy.dtype",
    "builtins.set",
    "builtins.list",
    "builtins.dict",
    "builtins.tuple",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.str",
    "builtins.bytes",
    "builtins.bytearray",
    "builtins.complex",
    "builtins.range",
    "builtins.frozenset",
    "builtins.slice",
    "__builtin__.set",
];

/// Most memo entries tracked per stream. Real checkpoints memoise one entry
/// per object (thousands); past this, later memo lookups are treated as
/// unknown, so a STACK_GLOBAL fed from them is reported unresolved — never
/// a pass.
pub const MAX_MEMO: usize = 1 << 20;
/// Most distinct imports recorded per file; a checkpoint needs a few dozen.
/// Past this the scan stops with an error.
pub const MAX_IMPORTS: usize = 1 << 20;
/// Most bytes of distinct import names per file: with names fetched from the
/// memo, a few bytes of input can make a new kilobyte-long name, so the count
/// alone does not bound memory. Past this the scan stops with an error.
pub const MAX_IMPORT_BYTES: usize = 16 << 20;
/// Longest module or attribute name kept as written. Python identifiers are
/// short; a longer one is reported by its length and first characters.
pub const MAX_NAME: usize = 512;

/// Scans pickle data into one report: every stream of every buffer given
/// (a torch zip's `.pkl` entries), imports kept once each, verdicts given at
/// [`Scanner::finish`]. Memory is bounded whatever the input: strings and memo
/// entries are spans of the buffer, not copies, and both the memo and the
/// import set are capped.
#[derive(Debug, Default)]
pub struct Scanner {
    report: PickleReport,
    seen: Seen,
}

/// The imports recorded so far, and their bytes.
#[derive(Debug, Default)]
struct Seen {
    names: HashSet<String>,
    bytes: usize,
    /// Where the string constants of the current buffer are (start, end),
    /// when asked for (secrets are looked for in them); at most
    /// [`MAX_STRINGS`].
    strings: Option<Vec<(usize, usize)>>,
}

/// String constants remembered per buffer for the secrets scan.
pub const MAX_STRINGS: usize = 1 << 20;

impl Scanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Continues `report` (its imports are kept and not repeated).
    pub fn resume(report: PickleReport) -> Self {
        let seen = Seen {
            names: report.imports.iter().cloned().collect(),
            bytes: report.imports.iter().map(String::len).sum(),
            strings: None,
        };
        Scanner { report, seen }
    }

    /// Also remember where each string constant is, for
    /// [`Scanner::take_strings`].
    pub fn collect_strings(&mut self) {
        self.seen.strings.get_or_insert_with(Vec::new);
    }

    /// The (start, end) byte ranges of the string constants pushed in the
    /// buffers scanned since the last call (offsets into the buffer given to
    /// [`Scanner::scan`]); empty unless [`Scanner::collect_strings`] was called.
    pub fn take_strings(&mut self) -> Vec<(usize, usize)> {
        self.seen
            .strings
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Scans one buffer: a pickle stream, or several concatenated.
    pub fn scan(&mut self, data: &[u8]) {
        self.scan_at(data, 0);
    }

    /// Scans the pickle that starts at `start` in `data` (an `.npy` object
    /// array's data after its header); string offsets are into `data`.
    pub fn scan_at(&mut self, data: &[u8], start: usize) {
        let mut pos = start;
        if pos >= data.len() {
            self.report
                .error
                .get_or_insert_with(|| format!("no pickle data after byte {start}"));
            return;
        }
        while pos < data.len() {
            match scan_stream(data, &mut pos, &mut self.report, &mut self.seen) {
                Ok(()) => self.report.streams += 1,
                Err(e) => {
                    // The first fault is the one to read; later buffers may
                    // still add imports.
                    self.report.error.get_or_insert(e);
                    break;
                }
            }
            // Trailing bytes after STOP that are not another stream are ignored.
            if data.get(pos) != Some(&0x80) {
                break;
            }
        }
    }

    /// The report, each import judged.
    pub fn finish(self) -> PickleReport {
        let mut report = self.report;
        report.dangerous_imports.clear();
        report.unknown_imports.clear();
        for import in &report.imports {
            match verdict(import) {
                Verdict::Safe => {}
                Verdict::Dangerous => report.dangerous_imports.push(import.clone()),
                Verdict::Unknown => report.unknown_imports.push(import.clone()),
            }
        }
        report
    }
}

/// Scans one buffer (one pickle stream, or several concatenated) and adds
/// to `report`. To scan many buffers into one report, use [`Scanner`].
pub fn scan(data: &[u8], report: &mut PickleReport) {
    let mut scanner = Scanner::resume(std::mem::take(report));
    scanner.scan(data);
    *report = scanner.finish();
}

/// What loading a pickle that imports `name` (`module.attr`) would mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// On the allow-list of what PyTorch/numpy checkpoints need, or a
    /// TorchScript class (`__torch__.…`, resolved against the archive's own
    /// code by `torch.jit.load`, never imported by Python).
    Safe,
    /// Runs commands, evaluates code, reaches files or the network, or
    /// imports further code (the modules and builtins attackers use).
    Dangerous,
    Unknown,
}

/// Modules any of whose attributes can run code or reach the system.
const DANGEROUS_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "subprocess",
    "sys",
    "socket",
    "shutil",
    "runpy",
    "importlib",
    "pty",
    "commands",
    "webbrowser",
    "ctypes",
    "marshal",
    "code",
    "codeop",
    "pickle",
    "_pickle",
    "dill",
    "multiprocessing",
    "asyncio",
    "http",
    "urllib",
    "urllib2",
    "requests",
    "ftplib",
    "smtplib",
    "telnetlib",
    "signal",
    "platform",
    "tempfile",
    "pdb",
    "bdb",
    "timeit",
    "trace",
    "cProfile",
    "profile",
    "site",
    "sysconfig",
    "zipimport",
    "pip",
    "setuptools",
];
/// Builtins that evaluate code, reach attributes or files.
const DANGEROUS_BUILTINS: &[&str] = &[
    "eval",
    "exec",
    "execfile",
    "compile",
    "getattr",
    "setattr",
    "delattr",
    "__import__",
    "open",
    "globals",
    "locals",
    "vars",
    "input",
    "breakpoint",
    "apply",
    "file",
    "reload",
    "memoryview",
];
/// Single callables known from published exploits.
const DANGEROUS_NAMES: &[&str] = &[
    "operator.attrgetter",
    "operator.methodcaller",
    "_operator.attrgetter",
    "_operator.methodcaller",
    "numpy.testing._private.utils.runstring",
    "torch.load",
    "torch.hub.load",
    "torch.jit.load",
    "torch.serialization.load",
];

pub fn verdict(name: &str) -> Verdict {
    if ALLOWED.contains(&name)
        || name.starts_with("__torch__.")
        || name.starts_with("torch.jit._pickle.")
    {
        return Verdict::Safe;
    }
    if name.starts_with('<') || DANGEROUS_NAMES.contains(&name) {
        // `<unresolved STACK_GLOBAL>`: a name computed at load time is a way
        // to hide what is imported.
        return Verdict::Dangerous;
    }
    let (module, attr) = name.rsplit_once('.').unwrap_or((name, ""));
    let top = module.split('.').next().unwrap_or(module);
    if DANGEROUS_MODULES.contains(&top)
        || (matches!(module, "builtins" | "__builtin__" | "__builtins__")
            && DANGEROUS_BUILTINS.contains(&attr))
    {
        return Verdict::Dangerous;
    }
    Verdict::Unknown
}

fn take<'a>(data: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], String> {
    let end = pos
        .checked_add(n)
        .filter(|e| *e <= data.len())
        .ok_or_else(|| format!("truncated at byte {}", *pos))?;
    let out = &data[*pos..end];
    *pos = end;
    Ok(out)
}

fn line<'a>(data: &'a [u8], pos: &mut usize) -> Result<&'a [u8], String> {
    let rest = &data[*pos..];
    let n = rest
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| format!("unterminated line at byte {}", *pos))?;
    *pos += n + 1;
    Ok(&rest[..n])
}

fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// A string constant of the stream, as where its bytes are in the buffer: a
/// memo entry or a STACK_GLOBAL operand costs no copy of the string.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The `n` bytes about to be taken at `pos`, taken.
    fn take(data: &[u8], pos: &mut usize, n: usize) -> Result<Span, String> {
        let start = *pos;
        take(data, pos, n)?;
        Ok(Span::new(start, *pos))
    }

    /// A protocol 0 text line, without its quotes.
    fn line(data: &[u8], pos: &mut usize) -> Result<Span, String> {
        let mut start = *pos;
        let mut end = start + line(data, pos)?.len();
        let quote = |b: u8| b == b'\'' || b == b'"';
        while start < end && quote(data[start]) {
            start += 1;
        }
        while end > start && quote(data[end - 1]) {
            end -= 1;
        }
        Ok(Span::new(start, end))
    }

    // Buffers are at most u32::MAX bytes (checked in `scan_stream`).
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    fn bytes(self, data: &[u8]) -> &[u8] {
        &data[self.start as usize..self.end as usize]
    }
}

/// The unpickler's memo (a dict: MEMOIZE stores at `len(memo)`), holding
/// spans. Capped at [`MAX_MEMO`] entries; once an entry could not be kept,
/// no lookup is trusted.
#[derive(Default)]
struct Memo {
    entries: HashMap<usize, Option<Span>>,
    overflowed: bool,
}

impl Memo {
    fn put(&mut self, i: usize, value: Option<Span>) {
        if self.entries.len() >= MAX_MEMO && !self.entries.contains_key(&i) {
            self.overflowed = true;
            return;
        }
        self.entries.insert(i, value);
    }

    fn memoize(&mut self, value: Option<Span>) {
        if self.overflowed {
            return; // len(memo) is no longer known
        }
        self.put(self.entries.len(), value);
    }

    /// `Err` when the memo overflowed: the value is unknown, and a
    /// STACK_GLOBAL that takes it is unresolved.
    fn get(&self, i: usize) -> Result<Option<Span>, Unknown> {
        if self.overflowed {
            return Err(Unknown);
        }
        Ok(self.entries.get(&i).copied().flatten())
    }
}

/// A value the scanner could not keep track of.
#[derive(Debug)]
struct Unknown;

/// `module.name` as reported: written out when both are of identifier size,
/// else a marker (verdict: dangerous) with the lengths and a prefix, so a
/// megabyte of name costs neither memory per use nor hides what it is.
fn import_name(module: &[u8], name: &[u8]) -> String {
    if module.len() > MAX_NAME || name.len() > MAX_NAME {
        let head = String::from_utf8_lossy(&module[..module.len().min(32)]);
        return format!(
            "<oversized import name: module {} bytes starting {head:?}, name {} bytes>",
            module.len(),
            name.len()
        );
    }
    format!(
        "{}.{}",
        String::from_utf8_lossy(module),
        String::from_utf8_lossy(name)
    )
}

/// Records an import once (a set: a stream of 100k distinct GLOBALs must
/// not cost a linear search each).
fn add(report: &mut PickleReport, seen: &mut Seen, name: String) -> Result<(), String> {
    if seen.names.contains(&name) {
        return Ok(());
    }
    if seen.names.len() >= MAX_IMPORTS {
        return Err(format!(
            "more than {MAX_IMPORTS} distinct imports (a checkpoint needs a few dozen); scan stopped"
        ));
    }
    if seen.bytes + name.len() > MAX_IMPORT_BYTES {
        return Err(format!(
            "distinct import names over {MAX_IMPORT_BYTES} bytes (a checkpoint needs a few dozen short ones); scan stopped"
        ));
    }
    seen.bytes += name.len();
    seen.names.insert(name.clone());
    report.imports.push(name);
    Ok(())
}

/// One stream up to STOP. Tracks the last two string constants pushed, which
/// is what STACK_GLOBAL consumes in every pickle Python writes: module and
/// name pushed (or fetched from the memo) right before it, with only MEMOIZE,
/// PUT and FRAME between.
fn scan_stream(
    data: &[u8],
    pos: &mut usize,
    report: &mut PickleReport,
    seen: &mut Seen,
) -> Result<(), String> {
    if u32::try_from(data.len()).is_err() {
        return Err(format!("{} bytes: over 4 GiB, not scanned", data.len()));
    }
    // The last two strings pushed, oldest first.
    let mut strings: [Option<Span>; 2] = [None, None];
    // Memoised strings (protocol 4 writes module/name via MEMOIZE then BINGET).
    let mut memo = Memo::default();
    let mut last: Option<Span> = None;
    let index = |raw: &[u8]| -> usize { String::from_utf8_lossy(raw).trim().parse().unwrap_or(0) };
    loop {
        let at = *pos;
        let op = *take(data, pos, 1)?.first().unwrap_or(&0);
        let mut pushed_string: Option<Span> = None;
        // A memo lookup: a string, another value, or unknown.
        let mut fetched: Option<Result<Option<Span>, Unknown>> = None;
        match op {
            b'.' => return Ok(()), // STOP
            0x80 => {
                take(data, pos, 1)?; // PROTO
            }
            0x95 => {
                take(data, pos, 8)?; // FRAME
            }
            b'c' | b'i' => {
                // GLOBAL / INST: "module\nname\n"
                let module = line(data, pos)?;
                let name = line(data, pos)?;
                add(report, seen, import_name(module, name))?;
            }
            0x93 => {
                // STACK_GLOBAL: module and name are the last two strings.
                let name = import_name_of(data, std::mem::take(&mut strings));
                add(report, seen, name)?;
            }
            // Strings.
            0x8c => {
                let n = take(data, pos, 1)?[0] as usize; // SHORT_BINUNICODE
                pushed_string = Some(Span::take(data, pos, n)?);
            }
            b'X' => {
                let n = le(take(data, pos, 4)?) as usize; // BINUNICODE
                pushed_string = Some(Span::take(data, pos, n)?);
            }
            0x8d => {
                let n = le(take(data, pos, 8)?) as usize; // BINUNICODE8
                pushed_string = Some(Span::take(data, pos, n)?);
            }
            b'U' => {
                let n = take(data, pos, 1)?[0] as usize; // SHORT_BINSTRING
                pushed_string = Some(Span::take(data, pos, n)?);
            }
            b'T' => {
                let n = le(take(data, pos, 4)?) as usize; // BINSTRING
                pushed_string = Some(Span::take(data, pos, n)?);
            }
            b'V' | b'S' => {
                // UNICODE / STRING (protocol 0, text line)
                pushed_string = Some(Span::line(data, pos)?);
            }
            // Memo.
            0x94 => memo.memoize(last), // MEMOIZE
            b'q' => {
                let i = take(data, pos, 1)?[0] as usize; // BINPUT
                memo.put(i, last);
            }
            b'r' => {
                let i = le(take(data, pos, 4)?) as usize; // LONG_BINPUT
                memo.put(i, last);
            }
            b'p' => {
                let i = index(line(data, pos)?); // PUT
                memo.put(i, last);
            }
            b'h' => {
                let i = take(data, pos, 1)?[0] as usize; // BINGET
                fetched = Some(memo.get(i));
            }
            b'j' => {
                let i = le(take(data, pos, 4)?) as usize; // LONG_BINGET
                fetched = Some(memo.get(i));
            }
            b'g' => {
                let i = index(line(data, pos)?); // GET
                fetched = Some(memo.get(i));
            }
            // Opcodes with fixed-size arguments.
            b'J' => {
                take(data, pos, 4)?;
            }
            b'K' => {
                take(data, pos, 1)?;
            }
            b'M' => {
                take(data, pos, 2)?;
            }
            b'G' => {
                take(data, pos, 8)?;
            }
            0x8a => {
                let n = take(data, pos, 1)?[0] as usize; // LONG1
                take(data, pos, n)?;
            }
            0x8b => {
                let n = le(take(data, pos, 4)?) as usize; // LONG4
                take(data, pos, n)?;
            }
            b'B' => {
                let n = le(take(data, pos, 4)?) as usize; // BINBYTES
                take(data, pos, n)?;
            }
            b'C' => {
                let n = take(data, pos, 1)?[0] as usize; // SHORT_BINBYTES
                take(data, pos, n)?;
            }
            0x8e => {
                let n = le(take(data, pos, 8)?) as usize; // BINBYTES8
                take(data, pos, n)?;
            }
            0x96 => {
                let n = le(take(data, pos, 8)?) as usize; // BYTEARRAY8
                take(data, pos, n)?;
            }
            b'I' | b'L' | b'F' | b'P' => {
                line(data, pos)?; // INT / LONG / FLOAT / PERSID (text)
            }
            0x82 => {
                take(data, pos, 1)?; // EXT1
            }
            0x83 => {
                take(data, pos, 2)?; // EXT2
            }
            0x84 => {
                take(data, pos, 4)?; // EXT4
            }
            // No-argument opcodes.
            b'(' | b')' | b']' | b'}' | b'N' | b'0' | b'1' | b'2' | b'a' | b'b' | b'd' | b'e'
            | b'l' | b'o' | b's' | b't' | b'u' | b'R' | b'Q' | 0x81 | 0x85 | 0x86 | 0x87 | 0x88
            | 0x89 | 0x8f | 0x90 | 0x91 | 0x92 | 0x97 | 0x98 => {}
            other => return Err(format!("unknown opcode 0x{other:02x} at byte {at}")),
        }
        if let (Some(span), Some(out)) = (pushed_string, seen.strings.as_mut())
            && out.len() < MAX_STRINGS
        {
            out.push((span.start as usize, span.end as usize));
        }
        if let Some(Ok(value)) = fetched {
            pushed_string = value;
        }
        if let Some(s) = pushed_string {
            strings = [strings[1], Some(s)];
            last = Some(s);
        } else if !matches!(op, 0x94 | b'q' | b'r' | b'p' | 0x95 | 0x80) {
            // Anything else changes the stack (a POP can bring back strings
            // pushed earlier; an unknown memo value may be one): the window
            // no longer says what is on top, so a STACK_GLOBAL now is
            // unresolved rather than mistaken.
            last = None;
            strings = [None, None];
        }
    }
}

/// The import a STACK_GLOBAL makes from the last two strings pushed.
fn import_name_of(data: &[u8], strings: [Option<Span>; 2]) -> String {
    match strings {
        [Some(m), Some(n)] => import_name(m.bytes(data), n.bytes(data)),
        _ => "<unresolved STACK_GLOBAL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(data: &[u8]) -> PickleReport {
        let mut scanner = Scanner::new();
        scanner.scan(data);
        scanner.finish()
    }

    /// "os" and "system" memoised, `memoize` more MEMOIZE, then both fetched
    /// for a STACK_GLOBAL.
    fn memo_then_stack_global(memoize: usize) -> Vec<u8> {
        let mut p = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94".to_vec();
        p.extend(std::iter::repeat_n(0x94u8, memoize));
        p.extend_from_slice(b"h\x00h\x01\x93.");
        p
    }

    /// 100k distinct GLOBALs, each twice: every one kept, once, in order
    /// (a set, not a linear search per opcode: 9.5 s before).
    #[test]
    fn a_hundred_thousand_distinct_globals_are_each_kept_once() {
        let mut p = b"\x80\x02".to_vec();
        for _ in 0..2 {
            for i in 0..100_000 {
                p.extend_from_slice(format!("cm{i}\nf\n0").as_bytes());
            }
        }
        p.extend_from_slice(b"N.");
        let r = report(&p);
        assert_eq!(r.error, None);
        assert_eq!(r.imports.len(), 100_000);
        assert_eq!(r.imports[0], "m0.f");
        assert_eq!(r.imports[99_999], "m99999.f");
        assert_eq!(r.unknown_imports.len(), 100_000);
        // Buffers scanned into one report share the set.
        let mut scanner = Scanner::new();
        scanner.scan(&p);
        scanner.scan(&p);
        let twice = scanner.finish();
        assert_eq!((twice.imports.len(), twice.streams), (100_000, 2));
    }

    /// The memo holds references: a million MEMOIZE after a string resolve,
    /// and past the cap a lookup is unknown, so the STACK_GLOBAL it feeds is
    /// unresolved (dangerous), never a pass.
    #[test]
    fn memo_is_bounded_and_fails_closed() {
        let r = report(&memo_then_stack_global(1_000_000));
        assert_eq!(r.dangerous_imports, ["os.system"]);
        let r = report(&memo_then_stack_global(MAX_MEMO));
        assert_eq!(r.imports, ["<unresolved STACK_GLOBAL>"]);
        assert_eq!(r.dangerous_imports, r.imports);
        assert_eq!(r.error, None);
        // PUT at any index counts towards len(memo), as in the unpickler's dict.
        let r = report(b"\x80\x04\x8c\x01xq\x05\x8c\x02os\x94\x8c\x06system\x94\x8c\x01y\x8c\x01zh\x01h\x02\x93.");
        assert_eq!(r.imports, ["os.system"]);
    }

    /// A megabyte-long name is reported by its size and start, once however
    /// often it is used, and judged dangerous.
    #[test]
    fn oversized_names_are_reported_not_copied() {
        let mut p = b"\x80\x04X".to_vec();
        p.extend_from_slice(&(1u32 << 20).to_le_bytes());
        p.extend(std::iter::repeat_n(b'o', 1 << 20));
        p.extend_from_slice(b"\x94\x8c\x06system\x94");
        for _ in 0..1000 {
            p.extend_from_slice(b"h\x00h\x01\x93");
        }
        p.push(b'.');
        let r = report(&p);
        assert_eq!(r.imports.len(), 1, "{:?}", r.imports);
        assert!(
            r.imports[0].starts_with("<oversized import name: module 1048576 bytes"),
            "{}",
            r.imports[0]
        );
        assert_eq!(r.dangerous_imports, r.imports);
    }

    /// 256 memoised 500-byte names fetched pairwise: 65,536 distinct
    /// kilobyte names from 500 KB of input stop at the byte budget.
    #[test]
    fn import_name_bytes_are_capped() {
        let mut p = b"\x80\x04".to_vec();
        for i in 0..256u32 {
            p.push(b'X');
            p.extend_from_slice(&500u32.to_le_bytes());
            p.extend_from_slice(format!("{i:0>500}").as_bytes());
            p.push(0x94);
        }
        for m in 0..=255u8 {
            for n in 0..=255u8 {
                p.extend_from_slice(&[b'h', m, b'h', n, 0x93, b'0']);
            }
        }
        p.push(b'.');
        let r = report(&p);
        assert!(r.error.unwrap().contains("bytes"));
        let total: usize = r.imports.iter().map(String::len).sum();
        assert!(total <= MAX_IMPORT_BYTES, "{total}");
        assert!(r.imports.len() > 10_000, "{}", r.imports.len());
    }

    /// A STACK_GLOBAL after other stack changes is unresolved: "os",
    /// "system", "x", POP leaves os and system on top, which the last two
    /// strings pushed ("system", "x") do not say.
    #[test]
    fn stack_global_after_a_pop_is_unresolved() {
        let r = report(b"\x80\x04\x8c\x02os\x8c\x06system\x8c\x01x0\x93)R.");
        assert_eq!(r.imports, ["<unresolved STACK_GLOBAL>"]);
        assert_eq!(r.dangerous_imports, r.imports);
        // As Python writes it: strings, MEMOIZE, FRAME between are fine.
        let r = report(b"\x80\x04\x95\x05\0\0\0\0\0\0\0\x8c\x02os\x94\x8c\x06system\x94\x93.");
        assert_eq!(r.imports, ["os.system"]);
    }

    /// Past MAX_IMPORTS distinct imports the scan stops with an error.
    #[test]
    fn distinct_imports_are_capped() {
        let mut p = b"\x80\x02".to_vec();
        for i in 0..=MAX_IMPORTS {
            p.extend_from_slice(format!("c{i}\nf\n0").as_bytes());
        }
        p.extend_from_slice(b"N.");
        let r = report(&p);
        assert_eq!(r.imports.len(), MAX_IMPORTS);
        assert!(r.error.unwrap().contains("distinct imports"));
    }
}
