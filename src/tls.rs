//! HTTPS for the hub's own listener: which certificate to serve (settings), loading it from PEM
//! files or generating a self-signed one on first start, and its SHA-256 fingerprint, which
//! `serve` prints so that a user can check what a phone's browser shows before trusting it.
//!
//! Plain HTTP stays the default. rustls with ring, as for the webhook client: nothing to install
//! on Windows or macOS. The webhook client's TLS is in `webhooks`; this module only serves.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// File names of the generated certificate and key in the state directory.
pub const SELF_SIGNED_CERT: &str = "obs-hub-tls-cert.pem";
pub const SELF_SIGNED_KEY: &str = "obs-hub-tls-key.pem";

/// What the listener serves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsSettings {
    /// Plain HTTP (the default).
    #[default]
    Off,
    /// A certificate generated on first start and kept in `dir` (the state directory), valid
    /// for `names` (loopback names, the bind address, the allowed host names).
    SelfSigned { dir: PathBuf, names: Vec<String> },
    /// A certificate chain and its private key, both PEM, given by the user.
    Files { cert: PathBuf, key: PathBuf },
}

impl TlsSettings {
    /// From `OBS_HUB_TLS` (`off` or `self-signed`) and `OBS_HUB_TLS_CERT` / `OBS_HUB_TLS_KEY`.
    /// Returns the key to name and the message when the combination makes no sense.
    pub fn resolve(
        mode: Option<&str>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        state_dir: PathBuf,
        names: Vec<String>,
    ) -> Result<Self, (&'static str, String)> {
        let mode = mode.map(str::trim).filter(|mode| !mode.is_empty());
        match (mode, cert, key) {
            (Some("self-signed"), None, None) => Ok(Self::SelfSigned {
                dir: state_dir,
                names,
            }),
            (Some("self-signed"), _, _) => Err((
                "OBS_HUB_TLS",
                "`self-signed` generates its own certificate: drop OBS_HUB_TLS_CERT and \
                 OBS_HUB_TLS_KEY, or drop OBS_HUB_TLS to serve them"
                    .to_string(),
            )),
            (Some("off") | None, None, None) => Ok(Self::Off),
            (Some("off") | None, Some(cert), Some(key)) => Ok(Self::Files { cert, key }),
            (Some("off") | None, Some(_), None) => Err((
                "OBS_HUB_TLS_KEY",
                "OBS_HUB_TLS_CERT is set: give the certificate's private key too (PEM)".to_string(),
            )),
            (Some("off") | None, None, Some(_)) => Err((
                "OBS_HUB_TLS_CERT",
                "OBS_HUB_TLS_KEY is set: give the certificate too (PEM)".to_string(),
            )),
            (Some(other), _, _) => Err((
                "OBS_HUB_TLS",
                format!("`{other}` is not `off` or `self-signed`"),
            )),
        }
    }
}

/// Why HTTPS could not be set up; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("TLS: {0}")]
    Setup(String),
}

fn file_error(path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// A certificate chain and key ready to serve, with the leaf's fingerprint.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// SHA-256 of the leaf certificate, as browsers show it (`AB:CD:...`).
    pub fingerprint: String,
    /// The PEM file holding the certificate (to hand to a client that pins it).
    pub cert_path: PathBuf,
}

impl Identity {
    /// The certificate to serve, or None for plain HTTP. Generates the self-signed one on
    /// first start.
    pub fn load(settings: &TlsSettings) -> Result<Option<Self>, TlsError> {
        match settings {
            TlsSettings::Off => Ok(None),
            TlsSettings::Files { cert, key } => read(cert, key).map(Some),
            TlsSettings::SelfSigned { dir, names } => {
                let (cert, key) = (dir.join(SELF_SIGNED_CERT), dir.join(SELF_SIGNED_KEY));
                if !cert.exists() || !key.exists() {
                    generate(&cert, &key, names)?;
                }
                read(&cert, &key).map(Some)
            }
        }
    }

    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| {
                builder
                    .with_no_client_auth()
                    .with_single_cert(self.chain.clone(), self.key.clone_key())
            })
            .map_err(|error| TlsError::Setup(error.to_string()))
    }
}

fn read(cert_path: &Path, key_path: &Path) -> Result<Identity, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| file_error(cert_path, error))?;
    let Some(leaf) = chain.first() else {
        return Err(file_error(cert_path, "no CERTIFICATE in the file"));
    };
    let fingerprint = fingerprint(leaf);
    let key =
        PrivateKeyDer::from_pem_file(key_path).map_err(|error| file_error(key_path, error))?;
    Ok(Identity {
        chain,
        key,
        fingerprint,
        cert_path: cert_path.to_path_buf(),
    })
}

/// Makes a self-signed certificate for `names` and writes it and its key (the key readable by
/// this user only, on unix).
fn generate(cert_path: &Path, key_path: &Path, names: &[String]) -> Result<(), TlsError> {
    let generated = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|error| TlsError::Setup(format!("cannot generate a certificate: {error}")))?;
    if let Some(dir) = cert_path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|error| file_error(dir, error))?;
    }
    write_private(key_path, generated.key_pair.serialize_pem().as_bytes())?;
    fs::write(cert_path, generated.cert.pem()).map_err(|error| file_error(cert_path, error))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    // Elsewhere (Windows) the file inherits the directory's ACL, the user's own by default.
    let mut file = options
        .open(path)
        .map_err(|error| file_error(path, error))?;
    file.write_all(bytes)
        .map_err(|error| file_error(path, error))
}

/// `AB:CD:...`, the SHA-256 of the DER certificate, as browsers' certificate viewers show it.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The names a self-signed certificate covers: loopback, the bind address when it is a specific
/// one, and the host names the hub is told it is reached by.
pub fn self_signed_names(bind: std::net::SocketAddr, allowed_hosts: &[String]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if !bind.ip().is_unspecified() && !bind.ip().is_loopback() {
        names.push(bind.ip().to_string());
    }
    for host in allowed_hosts {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if !names.contains(&host) {
            names.push(host);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        mode: Option<&str>,
        cert: Option<&str>,
        key: Option<&str>,
    ) -> Result<TlsSettings, (&'static str, String)> {
        TlsSettings::resolve(
            mode,
            cert.map(PathBuf::from),
            key.map(PathBuf::from),
            PathBuf::from("/state"),
            vec!["localhost".into()],
        )
    }

    #[test]
    fn plain_http_by_default_and_files_or_self_signed_on_request() {
        assert_eq!(resolve(None, None, None), Ok(TlsSettings::Off));
        assert_eq!(resolve(Some("off"), None, None), Ok(TlsSettings::Off));
        assert_eq!(
            resolve(None, Some("c.pem"), Some("k.pem")),
            Ok(TlsSettings::Files {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        assert_eq!(
            resolve(Some("self-signed"), None, None),
            Ok(TlsSettings::SelfSigned {
                dir: "/state".into(),
                names: vec!["localhost".into()]
            })
        );
    }

    #[test]
    fn half_or_contradictory_settings_name_the_key() {
        assert_eq!(
            resolve(None, Some("c.pem"), None).unwrap_err().0,
            "OBS_HUB_TLS_KEY"
        );
        assert_eq!(
            resolve(None, None, Some("k.pem")).unwrap_err().0,
            "OBS_HUB_TLS_CERT"
        );
        assert_eq!(
            resolve(Some("self-signed"), Some("c.pem"), Some("k.pem"))
                .unwrap_err()
                .0,
            "OBS_HUB_TLS"
        );
        assert!(resolve(Some("yes"), None, None)
            .unwrap_err()
            .1
            .contains("`yes`"));
    }

    #[test]
    fn the_self_signed_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let settings = TlsSettings::SelfSigned {
            dir: dir.path().join("state"),
            names: self_signed_names("0.0.0.0:8000".parse().unwrap(), &["studio.lan".into()]),
        };
        let first = Identity::load(&settings).unwrap().unwrap();
        let again = Identity::load(&settings).unwrap().unwrap();
        assert_eq!(
            first.fingerprint, again.fingerprint,
            "kept, not regenerated"
        );
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        assert!(first.server_config().is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let key = dir.path().join("state").join(SELF_SIGNED_KEY);
            let mode = fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key is the user's alone");
        }
    }

    #[test]
    fn a_missing_or_empty_certificate_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("empty.pem");
        fs::write(&cert, "").unwrap();
        let settings = TlsSettings::Files {
            cert: cert.clone(),
            key: dir.path().join("missing.pem"),
        };
        let error = Identity::load(&settings).err().unwrap().to_string();
        assert!(error.contains("empty.pem"), "{error}");
    }
}
