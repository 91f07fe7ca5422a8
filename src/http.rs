//! A minimal HTTP/1.0 client over any byte stream (a TCP socket or an SSH tunnel), with TLS
//! (rustls) for https: enough to check that an endpoint answers, without curl on the host.

use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};

/// What a `uri` task asks for, ready to send.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
    pub(crate) method: String,
    pub(crate) status_codes: Vec<u16>,
    pub(crate) return_content: bool,
    pub(crate) timeout: u64,
    pub(crate) headers: Vec<(String, String)>,
    /// Sent with a Content-Length (the task's `body`, serialised as `body_format` says).
    pub(crate) body: Option<Vec<u8>>,
    /// `https://`: TLS spoken by plumb itself, over the same tunnel.
    pub(crate) tls: Option<Tls>,
    /// The TLS settings (`validate_certs`, `ca_path`) for an https URL, this one or one a
    /// redirect leads to.
    pub(crate) tls_options: Tls,
    /// `follow_redirects`.
    pub(crate) follow: Follow,
    /// This request follows a redirect.
    pub(crate) redirected: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Tls {
    /// `validate_certs`: the server's certificate must chain to a trusted root and name the host.
    pub(crate) validate: bool,
    /// `ca_path`: PEM certificates trusted besides the control machine's own roots.
    pub(crate) ca_pem: Option<std::sync::Arc<Vec<u8>>>,
}

/// An http:// or https:// URL's host, port and path (with its query).
pub(crate) fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let (rest, default_port) = if let Some(r) = url.strip_prefix("http://") {
        (r, 80)
    } else if let Some(r) = url.strip_prefix("https://") {
        (r, 443)
    } else {
        return Err(format!("`{url}` is not an http:// or https:// URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port in `{url}`"))?,
        ),
        None => (authority, default_port),
    };
    if host.is_empty() {
        return Err(format!("no host in `{url}`"));
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// `follow_redirects`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Follow {
    /// `none`, `no`: the redirect is the answer.
    None,
    /// `safe` (the default): only a GET or HEAD request is redirected.
    #[default]
    Safe,
    /// `all`, `yes`: every request.
    All,
    /// `urllib2`: as Python's urllib: GET and HEAD, and a POST on 301, 302 and 303.
    Urllib2,
}

/// The values Ansible takes.
pub(crate) const FOLLOW_NAMES: &[&str] = &["all", "no", "none", "safe", "urllib2", "yes"];

impl Follow {
    pub(crate) fn named(name: &str) -> Option<Follow> {
        Some(match name {
            "none" | "no" => Follow::None,
            "safe" => Follow::Safe,
            "all" | "yes" => Follow::All,
            "urllib2" => Follow::Urllib2,
            _ => return None,
        })
    }
}

/// What the server answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// As sent, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

/// One request over `stream` (TLS on top for https): the status, headers and body.
pub(crate) fn exchange<S: Read + Write>(stream: &mut S, req: &Request) -> Result<Response, String> {
    let Some(tls) = &req.tls else {
        return plain(stream, req);
    };
    let config = client_config(tls).map_err(|e| format!("{}: {e}", req.url))?;
    let name = rustls::pki_types::ServerName::try_from(req.host.clone())
        .map_err(|e| format!("{}: {e}", req.url))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| format!("{}: {e}", req.url))?;
    let mut tls_stream = rustls::Stream::new(&mut conn, stream);
    plain(&mut tls_stream, req).map_err(explain)
}

/// What to do about a refused certificate.
fn explain(e: String) -> String {
    if e.contains("CaUsedAsEndEntity") {
        format!(
            "{e} (the server's certificate is itself a CA certificate, as `openssl req -x509` \
             makes by default: sign a server certificate with that CA and trust the CA with \
             `ca_path`, or set `validate_certs: false`)"
        )
    } else if e.contains("invalid peer certificate") {
        format!("{e} (trust its CA with `ca_path`, or set `validate_certs: false`)")
    } else {
        e
    }
}

fn plain<S: Read + Write>(stream: &mut S, req: &Request) -> Result<Response, String> {
    let default_port = if req.tls.is_some() { 443 } else { 80 };
    let host = if req.port == default_port {
        req.host.clone()
    } else {
        format!("{}:{}", req.host, req.port)
    };
    let mut head = format!(
        "{} {} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: plumb\r\nAccept: */*\r\nConnection: close\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let mut out = Vec::new();
    if let Some(b) = &req.body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    out.extend_from_slice(head.as_bytes());
    if let Some(b) = &req.body {
        out.extend_from_slice(b);
    }
    stream
        .write_all(&out)
        .and_then(|_| stream.flush())
        .map_err(|e| format!("{}: {e}", req.url))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A TLS server that closes without close_notify after a whole response.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(format!("{}: {e}", req.url)),
        }
    }
    parse_response(&raw).map_err(|e| format!("{}: {e}", req.url))
}

/// The control machine's trusted roots, read once.
fn native_roots() -> &'static Vec<rustls::pki_types::CertificateDer<'static>> {
    static ROOTS: OnceLock<Vec<rustls::pki_types::CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The certificates in a PEM file.
pub(crate) fn parse_pem(
    pem: &[u8],
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not a PEM certificate file ({e:?})"))?;
    if certs.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(certs)
}

fn client_config(tls: &Tls) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    if !tls.validate {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(native_roots().iter().cloned());
    if let Some(pem) = &tls.ca_pem {
        for c in parse_pem(pem)? {
            roots.add(c).map_err(|e| format!("ca_path: {e}"))?;
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// `validate_certs: false`: any certificate is taken; the handshake's signatures are still
/// checked, so the connection is encrypted, just not authenticated.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    if raw.is_empty() {
        return Err("connection closed without a response".into());
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("incomplete HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let proto = parts.next().unwrap_or("");
    if !proto.starts_with("HTTP/") {
        return Err(format!("not an HTTP response: `{status_line}`"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: `{status_line}`"))?;
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&raw[split + 4..]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_certificates_say_what_to_do() {
        assert!(explain("x: invalid peer certificate: UnknownIssuer".into()).contains("`ca_path`"));
        assert!(
            explain("x: invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))".into())
                .contains("sign a server certificate")
        );
        assert_eq!(explain("x: connection reset".into()), "x: connection reset");
    }

    #[test]
    fn parses_a_response() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Hello</h1>")
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "<h1>Hello</h1>");
        assert_eq!(r.headers, [("Content-Type".into(), "text/html".into())]);
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
