//! The NumPy reader (importers/model/src/numpy.rs) over arbitrary bytes: an
//! `.npz` archive when the input is a zip, else an `.npy` file (an object
//! array's pickle scanned); a result or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use aibomdb_importer_model::{keras::ZipLimits, numpy, pickle::Scanner};
    if data.starts_with(b"PK") {
        let mut scanner = Scanner::new();
        let _ = numpy::scan_npz(
            std::io::Cursor::new(data),
            &ZipLimits::default(),
            1 << 24,
            &mut scanner,
            &mut |_, _, _| {},
        );
        let _ = scanner.finish();
    } else {
        let _ = numpy::scan_file(data);
    }
});
