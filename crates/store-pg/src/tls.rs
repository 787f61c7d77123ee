//! TLS to the database, as libpq reads a URL's `sslmode` and `sslrootcert`:
//!
//! - `disable`, `allow`, `prefer` (libpq's default): no TLS. (`prefer` would
//!   use TLS when the server offers it; aibomdb connects in the clear unless
//!   asked for TLS, so a URL that needs it says so.)
//! - `require`: TLS; the server's certificate is checked against
//!   `sslrootcert` when given (libpq: as `verify-ca`), not at all otherwise.
//! - `verify-ca`: TLS, the certificate chain checked against `sslrootcert`
//!   (default `~/.postgresql/root.crt`), whatever name it is for.
//! - `verify-full`: as `verify-ca`, and the certificate must name the host.
//!
//! rustls (with ring, as ureq uses it) does the TLS; tokio-postgres-rustls
//! joins it to tokio-postgres, channel binding included.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aibomdb_store::StoreError;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Where to connect and how: the configuration tokio-postgres reads, and
/// the TLS connector when the URL asks for TLS.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: Option<MakeRustlsConnect>,
}

/// What a URL asks of TLS: the mode and the root file named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wish {
    mode: Mode,
    root: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Takes `sslmode` and `sslrootcert` out of `url` (tokio-postgres knows
/// neither `verify-ca`, `verify-full` nor `sslrootcert`) and gives back the
/// rest with what they ask for (`None`: no TLS). `location`: the URL
/// without its password, for messages.
pub(crate) fn split(url: &str, location: &str) -> Result<(String, Option<Wish>), StoreError> {
    let bad = |message: String| StoreError::NotAStore {
        path: location.into(),
        message,
    };
    // The query begins after the authority: a password may hold a `?`.
    let after_auth = url.rfind('@').map_or(0, |at| at + 1);
    let Some(q) = url[after_auth..].find('?').map(|i| i + after_auth) else {
        return Ok((url.to_string(), None));
    };
    let (base, query) = (&url[..q], &url[q + 1..]);
    let (mut mode, mut root) = (Mode::Off, None::<PathBuf>);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                mode = match value {
                    "disable" | "allow" | "prefer" => Mode::Off,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(bad(format!(
                            "sslmode={other}: disable, allow, prefer, require, verify-ca or verify-full"
                        )));
                    }
                }
            }
            "sslrootcert" => root = Some(PathBuf::from(percent_decoded(value))),
            _ => kept.push(pair),
        }
    }
    if mode != Mode::Off {
        // The TLS handshake is ours: tokio-postgres is told only that it is
        // required.
        kept.push("sslmode=require");
    }
    let rest = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    let wish = (mode != Mode::Off).then_some(Wish { mode, root });
    Ok((rest, wish))
}

/// The connector a [`Wish`] asks for. `location`: for messages.
pub(crate) fn connector_for(wish: &Wish, location: &str) -> Result<MakeRustlsConnect, StoreError> {
    connector(wish.mode, wish.root.as_deref()).map_err(|message| StoreError::NotAStore {
        path: location.into(),
        message,
    })
}

/// libpq's default root file: `~/.postgresql/root.crt`.
fn default_root() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".postgresql/root.crt")
}

/// `%2F` and the like in a URL's parameter value.
fn percent_decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn connector(mode: Mode, root: Option<&Path>) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let root = match (mode, root) {
        (_, Some(root)) => Some(root.to_path_buf()),
        // libpq's default for the modes that verify; `require` verifies
        // (as `verify-ca`) when that file is there.
        (Mode::VerifyCa | Mode::VerifyFull, None) => Some(default_root()),
        (_, None) => Some(default_root()).filter(|r| r.is_file()),
    };
    let verifier: Arc<dyn ServerCertVerifier> = match root {
        None => Arc::new(Unverified(provider)),
        Some(root) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&root)
                .map_err(|e| format!("sslrootcert {}: {e}", root.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert {}: {e}", root.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {}: {e}", root.display()))?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "sslrootcert {}: no certificate in it",
                    root.display()
                ));
            }
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("sslrootcert {}: {e}", root.display()))?;
            match mode {
                Mode::VerifyFull => webpki,
                _ => Arc::new(AnyName(webpki)),
            }
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `verify-ca` (and `require` with a root): the chain must lead to a root
/// given, for whatever name the certificate is.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` without a root: encrypted, the certificate not checked (as
/// libpq does); the handshake's signatures still are.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_and_read_as_libpq_reads_them() {
        let (rest, tls) = split("postgresql://u@h/db?sslmode=disable&port=5433", "x").unwrap();
        assert_eq!(rest, "postgresql://u@h/db?port=5433");
        assert!(tls.is_none());
        let (rest, tls) = split("postgresql://u@h/db?sslmode=require", "x").unwrap();
        assert_eq!(rest, "postgresql://u@h/db?sslmode=require");
        assert_eq!(tls.map(|w| w.mode), Some(Mode::Require));
        let (rest, tls) = split("postgresql://u@h/db", "x").unwrap();
        assert_eq!(rest, "postgresql://u@h/db");
        assert!(tls.is_none());
        assert!(split("postgresql://u@h/db?sslmode=sometimes", "x").is_err());
        // A `?` in the password is not the query.
        let (rest, tls) = split("postgresql://u:p?w@h/db?sslmode=verify-ca", "x").unwrap();
        assert_eq!(rest, "postgresql://u:p?w@h/db?sslmode=require");
        assert_eq!(tls.map(|w| w.mode), Some(Mode::VerifyCa));
        // A root that is not there is named.
        let (_, wish) = split(
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=%2Fnonexistent%2Froot.crt",
            "x",
        )
        .unwrap();
        let e = connector_for(&wish.unwrap(), "x")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/nonexistent/root.crt"), "{e}");
    }
}
