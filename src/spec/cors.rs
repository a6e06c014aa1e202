// Why: a CORS origin is a security decision that lands in generated settings and must be exactly
// what a browser sends in `Origin` (scheme://host[:port], nothing else). Checking it here keeps
// wildcards, paths and plain-http public origins out of every generated project.

use serde::{Deserialize, Serialize};

/// A browser origin: `https://host[:port]`, or `http://` for localhost, 127.0.0.1 and [::1] only.
/// No path, query, fragment, user info or wildcard. Stored lower-cased, as browsers send it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

const LOOPBACK: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

impl Origin {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let shown = super::show(raw);
        let bad = |why: &str| Err(format!("CORS origin {shown} {why}"));
        if raw.is_empty() {
            return Err("a CORS origin is empty".into());
        }
        if raw.contains('*') {
            return bad("contains `*`: wildcards are not allowed, list each origin");
        }
        if let Some(c) = raw.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return bad(&format!(
                "contains {}",
                super::show(&c.to_string()).replace('`', "")
            ));
        }
        if !raw.is_ascii() {
            return bad("contains non-ASCII characters; write an international domain in its xn-- (punycode) form");
        }
        let lower = raw.to_ascii_lowercase();
        let (scheme, rest) = match lower.split_once("://") {
            Some(parts) => parts,
            None => return bad("must look like https://host[:port]"),
        };
        if scheme != "https" && scheme != "http" {
            return bad("must use https (or http for localhost)");
        }
        if let Some(c) = rest.chars().find(|c| matches!(c, '/' | '?' | '#')) {
            let what = match c {
                '/' => "a path (even a trailing `/`)",
                '?' => "a query",
                _ => "a fragment",
            };
            return bad(&format!(
                "has {what}; an origin is only scheme://host[:port]"
            ));
        }
        if rest.contains('@') {
            return bad("contains user info (`@`); an origin is only scheme://host[:port]");
        }
        let (host, port) =
            split_host_port(rest).map_err(|why| format!("CORS origin {shown} {why}"))?;
        check_host(host).map_err(|why| format!("CORS origin {shown} {why}"))?;
        if let Some(port) = port {
            let n: u32 = match port.parse() {
                Ok(n) if !port.starts_with('0') && (1..=65535).contains(&n) => n,
                _ => return bad("has an invalid port (1-65535, no leading zero)"),
            };
            if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
                return bad(&format!(
                    "names the default port {n}; browsers omit it, so write {scheme}://{host}"
                ));
            }
        }
        if scheme == "http" && !LOOPBACK.contains(&host) {
            return bad(
                "uses http; only https is allowed, except for localhost, 127.0.0.1 and [::1]",
            );
        }
        Ok(Origin(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn split_host_port(rest: &str) -> Result<(&str, Option<&str>), String> {
    if rest.starts_with('[') {
        let end = rest.find(']').ok_or("has an unclosed `[`")?;
        let (host, after) = rest.split_at(end + 1);
        match after {
            "" => Ok((host, None)),
            p if p.starts_with(':') => Ok((host, Some(&p[1..]))),
            _ => Err("has text after the IPv6 address".into()),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => Ok((h, Some(p))),
            None => Ok((rest, None)),
        }
    }
}

fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("has no host".into());
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.trim_end_matches(']');
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "has an invalid IPv6 address".into());
    }
    if host.len() > 253 {
        return Err("has a host name longer than 253 characters".into());
    }
    if host
        .split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return host
            .parse::<std::net::Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| "has an invalid IPv4 address".into());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "has an invalid host name label `{label}` (letters, digits and inner `-` only)"
            ));
        }
    }
    Ok(())
}

impl TryFrom<String> for Origin {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Origin::parse(&value)
    }
}

impl From<Origin> for String {
    fn from(v: Origin) -> String {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_origins() {
        for (raw, want) in [
            ("https://localhost:3000", "https://localhost:3000"),
            ("https://App.Example.COM", "https://app.example.com"),
            ("http://localhost:5173", "http://localhost:5173"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("https://[2001:db8::1]", "https://[2001:db8::1]"),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
            ("https://10.0.0.1:8443", "https://10.0.0.1:8443"),
        ] {
            assert_eq!(
                Origin::parse(raw)
                    .unwrap_or_else(|e| panic!("{raw}: {e}"))
                    .as_str(),
                want
            );
        }
    }

    #[test]
    fn refuses_origins() {
        for (raw, why) in [
            ("*", "`*`"),
            ("https://*.example.com", "`*`"),
            ("http://example.com", "only https"),
            ("ftp://example.com", "https"),
            ("example.com", "https://host"),
            ("https://example.com/", "path"),
            ("https://example.com/app", "path"),
            ("https://example.com?x=1", "query"),
            ("https://example.com#x", "fragment"),
            ("https://user@example.com", "user info"),
            ("https://example.com:0", "port"),
            ("https://example.com:65536", "port"),
            ("https://example.com:08", "port"),
            ("https://example.com:443", "default port"),
            ("https://", "no host"),
            ("https://exa mple.com", "contains"),
            ("https://example.com\n", "contains"),
            ("https://bücher.example", "non-ASCII"),
            ("https://ex\"ample.com", "label"),
            ("https://-x.com", "label"),
            ("https://999.1.1.1", "IPv4"),
            ("https://[::1", "unclosed"),
            ("https://[zz]", "IPv6"),
            ("", "empty"),
            ("https://{{x}}", "label"),
        ] {
            let err = Origin::parse(raw).expect_err(raw);
            assert!(err.contains(why), "{raw}: {err}");
        }
    }
}
