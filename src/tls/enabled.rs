//! The rustls side of [`super`]: the configuration and the per-connection
//! layer the session runs its bytes through.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use rustls::client::ClientConnection;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::{CertificateProblem, TlsError};
use crate::session::HostPort;

/// TLS settings, checked once when built and shared by every connection
/// (server certificates are verified; see [`TlsConfigBuilder`]).
#[derive(Clone)]
pub struct TlsConfig {
    rustls: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field(
                "client_cert",
                &self.rustls.client_auth_cert_resolver.has_certs(),
            )
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// A builder: add trusted roots (a PEM file or text, or the
    /// platform's store), and a client certificate for mutual TLS.
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder {
            roots: RootCertStore::empty(),
            client: None,
            error: None,
        }
    }

    /// A configuration built by the caller with rustls itself (custom
    /// verifiers, protocol versions, key logging). Used as given.
    pub fn from_rustls(config: Arc<ClientConfig>) -> TlsConfig {
        TlsConfig { rustls: config }
    }
}

/// Why a [`TlsConfig`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {kind}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        kind: std::io::ErrorKind,
    },
    /// PEM text holds no certificate, or one that does not parse.
    #[error("no usable certificate in the PEM text")]
    BadCertificate,
    /// PEM text holds no private key, or one that does not parse.
    #[error("no usable private key in the PEM text")]
    BadKey,
    /// No trusted root was given (or the platform's store is empty):
    /// every server would be refused.
    #[error("no trusted root certificate")]
    NoRoots,
    /// rustls refused the client certificate and key (they do not match,
    /// or the key type is not supported).
    #[error("the client certificate and key were refused")]
    ClientCertRefused,
}

/// Builds a [`TlsConfig`]; errors are kept until [`build`](Self::build).
#[must_use = "call build() to get the TlsConfig"]
pub struct TlsConfigBuilder {
    roots: RootCertStore,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    error: Option<TlsConfigError>,
}

impl std::fmt::Debug for TlsConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfigBuilder")
            .field("roots", &self.roots.len())
            .field("client_cert", &self.client.is_some())
            .field("error", &self.error)
            .finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|e| TlsConfigError::Read {
        path: path.display().to_string(),
        kind: e.kind(),
    })
}

impl TlsConfigBuilder {
    fn fail(mut self, e: TlsConfigError) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// Trust the CA certificates in this PEM text.
    pub fn root_pem(mut self, pem: &[u8]) -> Self {
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
        match certs {
            Ok(certs) if !certs.is_empty() => {
                let (added, _) = self.roots.add_parsable_certificates(certs);
                if added == 0 {
                    return self.fail(TlsConfigError::BadCertificate);
                }
                self
            }
            _ => self.fail(TlsConfigError::BadCertificate),
        }
    }

    /// Trust the CA certificates in this PEM file.
    pub fn root_pem_file(self, path: impl AsRef<Path>) -> Self {
        match read(path.as_ref()) {
            Ok(pem) => self.root_pem(&pem),
            Err(e) => self.fail(e),
        }
    }

    /// Trust the platform's certificate store (through
    /// `rustls-native-certs`).
    pub fn platform_roots(mut self) -> Self {
        let found = rustls_native_certs::load_native_certs();
        self.roots.add_parsable_certificates(found.certs);
        self
    }

    /// Present this certificate chain and key (PEM text) when the server
    /// asks (`ssl.clientAuth=want|need`): mutual TLS.
    pub fn client_cert_pem(mut self, chain: &[u8], key: &[u8]) -> Self {
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(chain).collect();
        let certs = match certs {
            Ok(c) if !c.is_empty() => c,
            _ => return self.fail(TlsConfigError::BadCertificate),
        };
        let Ok(key) = PrivateKeyDer::from_pem_slice(key) else {
            return self.fail(TlsConfigError::BadKey);
        };
        self.client = Some((certs, key));
        self
    }

    /// [`client_cert_pem`](Self::client_cert_pem) from two files.
    pub fn client_cert_pem_files(self, chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        match (read(chain.as_ref()), read(key.as_ref())) {
            (Ok(c), Ok(k)) => self.client_cert_pem(&c, &k),
            (Err(e), _) | (_, Err(e)) => self.fail(e),
        }
    }

    /// The configuration, or the first problem met.
    pub fn build(self) -> Result<TlsConfig, TlsConfigError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.roots.is_empty() {
            return Err(TlsConfigError::NoRoots);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| TlsConfigError::ClientCertRefused)?
            .with_root_certificates(self.roots);
        let config = match self.client {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(|_| TlsConfigError::ClientCertRefused)?,
            None => builder.with_no_client_auth(),
        };
        Ok(TlsConfig {
            rustls: Arc::new(config),
        })
    }
}

/// One connection's TLS state: ciphertext in, plaintext out, and back.
pub(crate) struct TlsLayer {
    conn: ClientConnection,
}

impl std::fmt::Debug for TlsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsLayer")
            .field("handshaking", &self.conn.is_handshaking())
            .finish()
    }
}

impl TlsLayer {
    /// Starts a handshake with `host` (its name is the SNI and the name
    /// the certificate must hold).
    pub(crate) fn new(config: &TlsConfig, host: &HostPort) -> Result<TlsLayer, TlsError> {
        let name =
            ServerName::try_from(host.host.clone()).map_err(|_| TlsError::InvalidServerName)?;
        let mut conn =
            ClientConnection::new(config.rustls.clone(), name).map_err(|e| classify(&e))?;
        // The session bounds what it writes (its own backpressure).
        conn.set_buffer_limit(None);
        Ok(TlsLayer { conn })
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Takes ciphertext from the socket; appends the plaintext it holds.
    pub(crate) fn read(&mut self, mut bytes: &[u8], plain: &mut BytesMut) -> Result<(), TlsError> {
        while !bytes.is_empty() {
            self.conn
                .read_tls(&mut bytes)
                .map_err(|_| TlsError::NotTls)?;
            self.conn.process_new_packets().map_err(|e| classify(&e))?;
            let mut reader = self.conn.reader();
            let mut chunk = [0u8; 16 * 1024];
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) => break, // close_notify: the socket's end will follow
                    Ok(n) => plain.extend_from_slice(&chunk[..n]),
                    Err(_) => break, // nothing more for now
                }
            }
        }
        Ok(())
    }

    /// Encrypts `plain` (held until the handshake is done).
    pub(crate) fn write(&mut self, plain: &[u8]) {
        // Unbounded buffers: a write of plaintext cannot fall short.
        let _ = self.conn.writer().write_all(plain);
    }

    /// Appends what should go to the socket now (handshake or records).
    pub(crate) fn transmit(&mut self, out: &mut BytesMut) {
        let mut w = out.writer();
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut w).is_err() {
                break;
            }
        }
    }
}

fn classify(e: &rustls::Error) -> TlsError {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(c) => TlsError::CertificateNotTrusted(match c {
            // A chain naming a trusted CA that did not sign it.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                CertificateProblem::UnknownIssuer
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                CertificateProblem::WrongName
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => CertificateProblem::Expired,
            _ => CertificateProblem::Other,
        }),
        E::AlertReceived(alert) => TlsError::Refused(u8::from(*alert)),
        E::InvalidMessage(_)
        | E::PeerMisbehaved(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. }
        | E::PeerIncompatible(_) => TlsError::NotTls,
        _ => TlsError::Other,
    }
}
