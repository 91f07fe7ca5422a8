//! A minimal HTTP/1.0 client over any byte stream (a TCP socket or an SSH tunnel): enough to
//! check that an endpoint answers, without curl on the host.

use crate::modules::uri::Request;
use std::io::{Read, Write};

/// Sends `req` and reads the whole answer: (status, body).
pub fn exchange<S: Read + Write>(stream: &mut S, req: &Request) -> Result<(u16, String), String> {
    let host = if req.port == 80 {
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
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.flush())
        .map_err(|e| format!("{}: {e}", req.url))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("{}: {e}", req.url))?;
    parse_response(&raw).map_err(|e| format!("{}: {e}", req.url))
}

pub fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
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
    Ok((
        status,
        String::from_utf8_lossy(&raw[split + 4..]).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response() {
        let (s, body) =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Hello</h1>")
                .unwrap();
        assert_eq!(s, 200);
        assert_eq!(body, "<h1>Hello</h1>");
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
