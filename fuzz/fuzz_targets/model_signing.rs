//! OpenSSF model-signing bundles (`model.sig`): JSON, base64, DSSE, in-toto,
//! X.509 certificates, with a key and a certificate chain to check against.
#![no_main]

use libfuzzer_sys::fuzz_target;

const KEY: &str = include_str!("../../../shared/corpus/formats/model-signing/keys/signing-key-pub.pem");
const CA: &str = include_str!("../../../shared/corpus/formats/model-signing/keys/ca-cert.pem");

fuzz_target!(|data: &[u8]| {
    let trust = aibomdb_importer_model::signing::Trust {
        public_key_pem: Some(KEY.to_string()),
        certificate_chain_pem: Some(CA.to_string()),
        now: 1_767_225_600,
    };
    let _ = aibomdb_importer_model::signing::verify(data, &trust, &[]);
});
