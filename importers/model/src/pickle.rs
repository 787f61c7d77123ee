//! A pickle opcode walker: lists what a pickle would import (GLOBAL,
//! STACK_GLOBAL, INST) without executing anything, modelled on Python's
//! `pickletools.genops`. Protocols 0–5. Bounded: a stream longer than the
//! input or an unknown opcode ends the scan with an error, never a panic.

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

/// Scans one pickle stream (or several concatenated) and adds to `report`.
pub fn scan(data: &[u8], report: &mut PickleReport) {
    let mut pos = 0usize;
    while pos < data.len() {
        match scan_stream(data, &mut pos, report) {
            Ok(()) => report.streams += 1,
            Err(e) => {
                report.error = Some(e);
                break;
            }
        }
        // Trailing bytes after STOP that are not another stream are ignored.
        if data.get(pos) != Some(&0x80) {
            break;
        }
    }
    report.dangerous_imports.clear();
    report.unknown_imports.clear();
    for import in &report.imports {
        match verdict(import) {
            Verdict::Safe => {}
            Verdict::Dangerous => report.dangerous_imports.push(import.clone()),
            Verdict::Unknown => report.unknown_imports.push(import.clone()),
        }
    }
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

/// One stream up to STOP. Tracks the last two string constants pushed, which
/// is what STACK_GLOBAL consumes in every pickle Python writes.
fn scan_stream(data: &[u8], pos: &mut usize, report: &mut PickleReport) -> Result<(), String> {
    let mut strings: Vec<String> = Vec::new();
    // Memoised strings (protocol 4 writes module/name via MEMOIZE then BINGET).
    let mut memo: Vec<Option<String>> = Vec::new();
    let mut last: Option<String> = None;
    let add = |report: &mut PickleReport, name: String| {
        if !report.imports.contains(&name) {
            report.imports.push(name);
        }
    };
    loop {
        let at = *pos;
        let op = *take(data, pos, 1)?.first().unwrap_or(&0);
        let mut pushed_string: Option<String> = None;
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
                let module = String::from_utf8_lossy(line(data, pos)?).into_owned();
                let name = String::from_utf8_lossy(line(data, pos)?).into_owned();
                add(report, format!("{module}.{name}"));
            }
            0x93 => {
                // STACK_GLOBAL: module and name are the last two strings.
                let name = strings.pop();
                let module = strings.pop();
                match (module, name) {
                    (Some(m), Some(n)) => add(report, format!("{m}.{n}")),
                    _ => add(report, "<unresolved STACK_GLOBAL>".into()),
                }
            }
            // Strings.
            0x8c => {
                let n = take(data, pos, 1)?[0] as usize; // SHORT_BINUNICODE
                pushed_string = Some(String::from_utf8_lossy(take(data, pos, n)?).into_owned());
            }
            b'X' => {
                let n = le(take(data, pos, 4)?) as usize; // BINUNICODE
                pushed_string = Some(String::from_utf8_lossy(take(data, pos, n)?).into_owned());
            }
            0x8d => {
                let n = le(take(data, pos, 8)?) as usize; // BINUNICODE8
                pushed_string = Some(String::from_utf8_lossy(take(data, pos, n)?).into_owned());
            }
            b'U' => {
                let n = take(data, pos, 1)?[0] as usize; // SHORT_BINSTRING
                pushed_string = Some(String::from_utf8_lossy(take(data, pos, n)?).into_owned());
            }
            b'T' => {
                let n = le(take(data, pos, 4)?) as usize; // BINSTRING
                pushed_string = Some(String::from_utf8_lossy(take(data, pos, n)?).into_owned());
            }
            b'V' | b'S' => {
                // UNICODE / STRING (protocol 0, text line)
                let raw = String::from_utf8_lossy(line(data, pos)?).into_owned();
                pushed_string = Some(raw.trim_matches(|c| c == '\'' || c == '"').to_string());
            }
            // Memo.
            0x94 => {
                memo.push(last.clone()); // MEMOIZE
            }
            b'q' => {
                let i = take(data, pos, 1)?[0] as usize; // BINPUT
                set_memo(&mut memo, i, last.clone());
            }
            b'r' => {
                let i = le(take(data, pos, 4)?) as usize; // LONG_BINPUT
                set_memo(&mut memo, i, last.clone());
            }
            b'p' => {
                let i: usize = String::from_utf8_lossy(line(data, pos)?)
                    .trim()
                    .parse()
                    .unwrap_or(0);
                set_memo(&mut memo, i, last.clone());
            }
            b'h' => {
                let i = take(data, pos, 1)?[0] as usize; // BINGET
                pushed_string = memo.get(i).cloned().flatten();
            }
            b'j' => {
                let i = le(take(data, pos, 4)?) as usize; // LONG_BINGET
                pushed_string = memo.get(i).cloned().flatten();
            }
            b'g' => {
                let i: usize = String::from_utf8_lossy(line(data, pos)?)
                    .trim()
                    .parse()
                    .unwrap_or(0);
                pushed_string = memo.get(i).cloned().flatten();
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
        if let Some(s) = pushed_string {
            strings.push(s.clone());
            if strings.len() > 2 {
                strings.remove(0);
            }
            last = Some(s);
        } else if !matches!(op, 0x94 | b'q' | b'r' | b'p' | 0x95 | 0x80) {
            last = None;
        }
    }
}

fn set_memo(memo: &mut Vec<Option<String>>, i: usize, value: Option<String>) {
    // A hostile index must not allocate without bound.
    if i > 1_000_000 {
        return;
    }
    if memo.len() <= i {
        memo.resize(i + 1, None);
    }
    memo[i] = value;
}
