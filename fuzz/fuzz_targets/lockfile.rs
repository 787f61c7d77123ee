//! Every Python lockfile reader: the first byte picks uv.lock, poetry.lock,
//! pdm.lock, pylock.toml, Pipfile.lock or requirements.txt. The rest is split
//! at the first NUL: before it the lockfile, after it the project file every
//! sibling lookup returns (pyproject.toml, Pipfile, requirements.in, `-r`
//! includes), so the readers of those are fuzzed too.
#![no_main]

use aibomdb_graph::DocumentFormat;
use aibomdb_importer_python_lock::{Siblings, import};
use libfuzzer_sys::fuzz_target;

const FORMATS: &[DocumentFormat] = &[
    DocumentFormat::UvLock,
    DocumentFormat::PoetryLock,
    DocumentFormat::PdmLock,
    DocumentFormat::PyLock,
    DocumentFormat::PipfileLock,
    DocumentFormat::RequirementsTxt,
];

struct Sibling<'a>(Option<&'a [u8]>);

impl Siblings for Sibling<'_> {
    fn read(&self, _relative: &str) -> Option<Vec<u8>> {
        self.0.map(<[u8]>::to_vec)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let format = FORMATS[pick as usize % FORMATS.len()];
    let (lock, sibling) = match rest.iter().position(|b| *b == 0) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let _ = import(format, lock, &Sibling(sibling));
});
