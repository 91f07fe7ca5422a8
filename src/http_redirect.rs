//! `uri`'s `follow_redirects`: which redirects are followed, and the request that follows one,
//! as Ansible's `module_utils.urls` redirect handler does.

use crate::http::{Follow, Request, Response, Tls};

/// How many redirects are followed before giving up (urllib's limit).
pub(crate) const MAX: usize = 10;

/// The request to make after `resp`, if it is a redirect that `req.follow` follows; an error
/// if it is one without a usable `Location`.
pub(crate) fn next(req: &Request, resp: &Response) -> Option<Result<Request, String>> {
    let code = resp.status;
    if !matches!(code, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let get_or_head = matches!(req.method.as_str(), "GET" | "HEAD");
    let follows = match req.follow {
        Follow::None => false,
        Follow::Safe => get_or_head,
        Follow::All => true,
        Follow::Urllib2 => get_or_head || (req.method == "POST" && code <= 303),
    };
    if !follows {
        return None;
    }
    let location = resp
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.trim().replace(' ', "%20"));
    let Some(location) = location else {
        return Some(Err(format!(
            "{} answered {code} without a Location",
            req.url
        )));
    };
    let url = resolve(&req.url, &location);
    let (host, port, path) = match crate::http::parse_url(&url) {
        Ok(p) => p,
        Err(e) => return Some(Err(format!("redirected to {location}: {e}"))),
    };
    let mut next = req.clone();
    next.tls = url.starts_with("https://").then(|| req.tls_options.clone());
    (next.url, next.host, next.port, next.path) = (url, host, port, path);
    next.redirected = true;
    // 307 and 308 repeat the request; the others drop the body, as browsers and Ansible do.
    if !matches!(code, 307 | 308) {
        next.body = None;
        next.headers.retain(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !matches!(
                k.as_str(),
                "content-length" | "content-type" | "transfer-encoding"
            )
        });
        let method = req.method.as_str();
        if (matches!(code, 302 | 303) && method != "HEAD") || (code == 301 && method == "POST") {
            next.method = "GET".into();
        }
    }
    Some(Ok(next))
}

/// `location` read against `base`: absolute, scheme-relative, host-relative or relative.
fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    if let Some(l) = location.strip_prefix("//") {
        return format!("{scheme}://{l}");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    // Relative: beside the last segment of the path (its query left off).
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{scheme}://{authority}{dir}{location}")
}

impl Default for Tls {
    fn default() -> Tls {
        Tls {
            validate: true,
            ca_pem: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, follow: Follow) -> Request {
        Request {
            url: "http://a.test/x/y?q=1".into(),
            host: "a.test".into(),
            port: 80,
            path: "/x/y?q=1".into(),
            method: method.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(b"{}".to_vec()),
            follow,
            ..Request::default()
        }
    }

    fn resp(code: u16, location: Option<&str>) -> Response {
        Response {
            status: code,
            headers: location
                .map(|l| vec![("Location".to_string(), l.to_string())])
                .unwrap_or_default(),
            body: String::new(),
        }
    }

    /// (method, policy, code) → followed as (method, body kept), or not followed.
    #[test]
    fn which_redirects_are_followed_and_how() {
        let (safe, no, all, urllib2) = (Follow::Safe, Follow::None, Follow::All, Follow::Urllib2);
        type Row<'a> = (&'a str, Follow, u16, Option<(&'a str, bool)>);
        let table: &[Row] = &[
            ("GET", safe, 301, Some(("GET", false))),
            ("HEAD", safe, 302, Some(("HEAD", false))),
            ("POST", safe, 302, None),
            ("GET", no, 301, None),
            ("POST", all, 301, Some(("GET", false))),
            ("PUT", all, 301, Some(("PUT", false))),
            ("POST", all, 303, Some(("GET", false))),
            ("POST", all, 307, Some(("POST", true))),
            ("PUT", all, 308, Some(("PUT", true))),
            ("POST", urllib2, 302, Some(("GET", false))),
            ("POST", urllib2, 307, None),
            ("PUT", urllib2, 301, None),
            ("GET", all, 200, None),
            ("GET", all, 304, None),
        ];
        for (method, follow, code, want) in table {
            let got = next(&req(method, *follow), &resp(*code, Some("/z")))
                .map(|r| r.unwrap())
                .map(|r| (r.method.clone(), r.body.is_some(), r));
            match (got, want) {
                (None, None) => {}
                (Some((m, body, r)), Some((wm, wbody))) => {
                    assert_eq!(
                        (m.as_str(), body),
                        (*wm, *wbody),
                        "{method} {follow:?} {code}"
                    );
                    assert!(r.redirected && r.url == "http://a.test/z");
                    let ct = r.headers.iter().any(|(k, _)| k == "Content-Type");
                    assert_eq!(ct, *wbody, "content headers go with the body");
                }
                (got, _) => panic!("{method} {follow:?} {code}: {:?}", got.map(|g| g.0)),
            }
        }
        let err = next(&req("GET", Follow::Safe), &resp(302, None))
            .unwrap()
            .unwrap_err();
        assert!(err.contains("without a Location"), "{err}");
    }

    /// (Location) → the URL followed, from http://a.test/x/y?q=1.
    #[test]
    fn locations_resolve_against_the_url() {
        let table = [
            ("https://b.test/p", "https://b.test/p"),
            ("//c.test:8080/p", "http://c.test:8080/p"),
            ("/root", "http://a.test/root"),
            ("sib", "http://a.test/x/sib"),
            ("with space", "http://a.test/x/with%20space"),
        ];
        for (loc, want) in table {
            let r = next(&req("GET", Follow::Safe), &resp(301, Some(loc)));
            let r = r.unwrap().unwrap();
            assert_eq!(r.url, want, "{loc}");
            assert_eq!(r.tls.is_some(), want.starts_with("https://"), "{loc}");
        }
        assert_eq!(Follow::named("yes"), Some(Follow::All));
        assert_eq!(Follow::named("no"), Some(Follow::None));
        assert!(
            crate::http::FOLLOW_NAMES
                .iter()
                .all(|n| Follow::named(n).is_some())
        );
    }
}
