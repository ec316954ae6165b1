//! Mutual TLS between Parley's services (split mode).
//!
//! Every internal gRPC connection is TLS 1.3/1.2 (rustls) where both ends
//! present a certificate issued by the cluster's own CA. A certificate names
//! its service with exactly one DNS name, `<service>.parley.internal`
//! (`parley_core::peer`): the server turns it into the caller's identity
//! (which the gRPC adapters check against what that service may call), and a
//! client pins the name of the service it dials, whatever address it dials.
//!
//! The files are those of a Kubernetes TLS Secret as cert-manager writes
//! them (`ca.crt`, `tls.crt`, `tls.key` in `cluster.tls_dir`); `parley certs`
//! makes a CA and one such directory per service.

use anyhow::{Context, bail};
use parley_core::peer::Peer;
use rustls_pki_types::{CertificateDer, ServerName};
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The cluster CA, this service's certificate and its key, as loaded.
#[derive(Clone)]
pub struct InternalTls {
    ca: Certificate,
    identity: Identity,
    /// The service the certificate names.
    pub own: Peer,
}

impl std::fmt::Debug for InternalTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is never printed.
        write!(f, "InternalTls({})", self.own.name())
    }
}

pub const CA_FILE: &str = "ca.crt";
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
pub const CERT_FILE: &str = "tls.crt";
pub const KEY_FILE: &str = "tls.key";

impl InternalTls {
    /// Loads `dir/{ca.crt,tls.crt,tls.key}` and checks that the certificate
    /// names `expected` (when given) and that the key is private.
    pub fn load(dir: &Path, expected: Option<Peer>) -> anyhow::Result<Self> {
        let read = |name: &str| -> anyhow::Result<Vec<u8>> {
            let path = dir.join(name);
            std::fs::read(&path).with_context(|| {
                format!(
                    "reading {} (cluster.tls_dir: internal calls are mutual TLS; `parley certs` makes these files)",
                    path.display()
                )
            })
        };
        let key_path = dir.join(KEY_FILE);
        parley_auth::key_files::check_private(dir, &key_path).map_err(anyhow::Error::msg)?;
        let (ca, cert, key) = (read(CA_FILE)?, read(CERT_FILE)?, read(KEY_FILE)?);
        let leaf = first_pem_cert(&cert)
            .with_context(|| format!("{}: no certificate", dir.join(CERT_FILE).display()))?;
        let Some(own) = peer_of(&leaf) else {
            bail!(
                "{} names no Parley service: it needs exactly one DNS name <service>.{}",
                dir.join(CERT_FILE).display(),
                parley_core::peer::IDENTITY_DOMAIN
            );
        };
        if let Some(expected) = expected
            && expected != own
        {
            bail!(
                "{} is the {} service's certificate, but this process runs {}",
                dir.join(CERT_FILE).display(),
                own.name(),
                expected.name()
            );
        }
        Ok(Self {
            ca: Certificate::from_pem(ca),
            identity: Identity::from_pem(cert, key),
            own,
        })
    }

    /// For a server: present our certificate, require the caller's, and
    /// give up on a handshake that does not finish (each is a task of its
    /// own, so a silent connection costs only itself, and only this long).
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.ca.clone())
            .client_auth_optional(false)
            .timeout(HANDSHAKE_TIMEOUT)
    }

    /// For a client of `service`: present our certificate, accept only
    /// that service's.
    pub fn client(&self, service: Peer) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
            .domain_name(service.dns_name())
    }
}

fn first_pem_cert(pem: &[u8]) -> Option<CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).next()?.ok()
}

/// The service a (CA-verified) certificate names: exactly one of the
/// service names must be valid for it, so a wildcard certificate names none.
pub fn peer_of(der: &CertificateDer<'_>) -> Option<Peer> {
    // Built once: this runs on every internal request.
    static NAMES: std::sync::LazyLock<Vec<(Peer, ServerName<'static>)>> =
        std::sync::LazyLock::new(|| {
            Peer::ALL
                .into_iter()
                .filter_map(|p| Some((p, ServerName::try_from(p.dns_name()).ok()?)))
                .collect()
        });
    let cert = webpki::EndEntityCert::try_from(der).ok()?;
    let mut named = NAMES
        .iter()
        .filter(|(_, name)| cert.verify_is_valid_for_subject_name(name).is_ok())
        .map(|(p, _)| *p);
    match (named.next(), named.next()) {
        (Some(p), None) => Some(p),
        _ => None,
    }
}

/// The interceptor of every internal gRPC server: records which service is
/// calling, from the certificate its TLS handshake verified. A request with
/// none gets no identity and is refused by the adapters.
pub fn identify_caller(mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    let peer = req
        .peer_certs()
        .and_then(|certs| certs.first().and_then(peer_of));
    if let Some(peer) = peer {
        req.extensions_mut().insert(peer);
    }
    Ok(req)
}

/// Writes a new cluster CA and one certificate directory per service under
/// `out` (`out/<service>/{ca.crt,tls.crt,tls.key}`, directories 0700, files
/// 0600), valid for
/// `days`. The CA's own key is not kept unless `keep_ca_key`: without it no
/// one can issue another identity later, which is the safe default for a
/// local cluster; keep it (offline!) to add instances without rotating all.
pub fn generate(out: &Path, days: u32, keep_ca_key: bool) -> anyhow::Result<Vec<PathBuf>> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let start = time_now();
    let end = start + std::time::Duration::from_secs(u64::from(days) * 86_400);

    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Parley cluster CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = start.into();
    ca_params.not_after = end.into();
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_issuer = rcgen::Issuer::new(ca_params, &ca_key);

    private_dir(out)?;
    if keep_ca_key {
        write_private(&out.join("ca.key"), ca_key.serialize_pem().as_bytes())?;
    }
    write_private(&out.join(CA_FILE), ca_cert.pem().as_bytes())?;
    let mut dirs = Vec::new();
    for peer in Peer::ALL {
        let mut params = CertificateParams::new(vec![peer.dns_name()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, peer.dns_name());
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = start.into();
        params.not_after = end.into();
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca_issuer)?;
        let dir = out.join(peer.name());
        private_dir(&dir)?;
        write_private(&dir.join(CA_FILE), ca_cert.pem().as_bytes())?;
        write_private(&dir.join(CERT_FILE), cert.pem().as_bytes())?;
        write_private(&dir.join(KEY_FILE), key.serialize_pem().as_bytes())?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// Now, minus a few minutes so that a slightly slow clock elsewhere in the
/// cluster does not see the certificates as not yet valid.
fn time_now() -> std::time::SystemTime {
    std::time::SystemTime::now() - std::time::Duration::from_secs(300)
}

/// Creates `dir` (and its parents) owner-only, whatever the umask.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_name_their_service_and_load() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), 30, false).unwrap();
        assert!(
            !dir.path().join("ca.key").exists(),
            "the CA key is not kept"
        );
        for peer in Peer::ALL {
            let tls = InternalTls::load(&dir.path().join(peer.name()), Some(peer)).unwrap();
            assert_eq!(tls.own, peer);
        }
        let wrong = InternalTls::load(&dir.path().join("gateway"), Some(Peer::Storage));
        assert!(wrong.unwrap_err().to_string().contains("gateway service's"));
    }

    #[test]
    fn a_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), 30, false).unwrap();
        let key = dir.path().join("auth").join(KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = InternalTls::load(&dir.path().join("auth"), None).unwrap_err();
        assert!(err.to_string().contains("mode 644"), "{err}");
    }
}
