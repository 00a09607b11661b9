//! A throw-away certificate authority for TLS tests: a CA, a server
//! certificate for `127.0.0.1` and `localhost`, and a client certificate.

use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

use super::TestingError;

/// PEM text for a test CA and the certificates it signed. Give
/// [`ca_pem`](TestPki::ca_pem) to the client as its trusted root, and the
/// whole to the server in a [`ServerTls`] of its
/// [`ServerOptions`](crate::ServerOptions).
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA's certificate.
    pub ca_pem: String,
    /// The server's private key, then its certificate (one file, as
    /// ZooKeeper's PEM key store reads it).
    pub server_pem: String,
    /// A client certificate signed by the CA, for mutual TLS.
    pub client_cert_pem: String,
    /// Its private key.
    pub client_key_pem: String,
}

/// TLS on a real test server: its `secureClientPort` beside the plain one.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The certificates the server presents and trusts.
    pub pki: TestPki,
    /// `ssl.clientAuth=need`: refuse clients without a certificate the CA signed.
    pub require_client_cert: bool,
}

impl TestPki {
    /// A fresh CA (with a name of its own) and its certificates, the
    /// server's for `127.0.0.1` and `localhost`.
    pub fn generate() -> Result<TestPki, TestingError> {
        Self::generate_for(&["127.0.0.1", "localhost"])
    }

    /// [`generate`](Self::generate) with a server certificate for these
    /// host names (a simulated network's `zk`, say).
    pub fn generate_for(server_names: &[&str]) -> Result<TestPki, TestingError> {
        static N: AtomicU32 = AtomicU32::new(0);
        let fail = |e: rcgen::Error| TestingError::StartFailed(format!("test certificates: {e}"));
        let ca_key = KeyPair::generate().map_err(fail)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        ca.distinguished_name.push(
            DnType::CommonName,
            format!(
                "kazoo-testing CA {}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
        );
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key).map_err(fail)?;
        let leaf = |names: Vec<String>, cn: &str| -> Result<(String, String), TestingError> {
            let key = KeyPair::generate().map_err(fail)?;
            let mut params = CertificateParams::new(names).map_err(fail)?;
            params.distinguished_name.push(DnType::CommonName, cn);
            let cert = params.signed_by(&key, &ca, &ca_key).map_err(fail)?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let (server_cert, server_key) = leaf(
            server_names.iter().map(|n| n.to_string()).collect(),
            "zookeeper",
        )?;
        let (client_cert_pem, client_key_pem) = leaf(vec!["client".into()], "client")?;
        Ok(TestPki {
            ca_pem: ca.pem(),
            server_pem: format!("{server_key}{server_cert}"),
            client_cert_pem,
            client_key_pem,
        })
    }
}
