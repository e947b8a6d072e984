//! What a web page in the user's browser may make the hub do: the checks that run before any
//! route, on every request (the middleware [`guard`] and the plain functions it calls).
//!
//! A hub on `127.0.0.1` without a token is reachable from every page the user opens: browsers
//! send "simple" requests (a `text/plain` POST, no preflight) to any address, and a domain the
//! attacker controls can be re-pointed at 127.0.0.1 after the page loaded (DNS rebinding), making
//! the page same-origin with the hub in the browser's eyes. Two checks close that:
//!
//! - **Host** ([`check_host`]): without a token, the hub answers only to names that cannot be
//!   rebound, loopback addresses and `localhost`, and to the names the operator lists in
//!   `allowed_hosts`. A rebound domain arrives with its own name in `Host` and is refused. With a
//!   token the token is the gate (a LAN bind needs one already, and is reached by names and
//!   addresses the hub cannot guess), so `Host` is not checked.
//! - **Cross-site** ([`check_cross_site`]): a request that may change something (every method
//!   but GET, HEAD and OPTIONS) from a page is refused unless the page is the hub's own or its
//!   origin is in `allowed_origins`. Clients that send no `Origin` (curl, scripts, another hub)
//!   are not browsers and pass.
//!
//! The WebSocket's own origin rule is in `ws_access`; it relies on `Host` having been checked
//! here. JSON bodies' media type is checked where bodies are read (`body`).

use std::net::{Ipv4Addr, Ipv6Addr};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{header, Method},
    middleware::Next,
    web,
};

use super::AppState;
use crate::{
    config::{normalize_origin, split_authority, Settings},
    error::ApiError,
};

/// Stands for a header value that is not visible ASCII: it matches nothing.
const NOT_TEXT: &str = "(not text)";

/// Refuses, before routing, what a page of another site or a rebound domain may not do. The
/// refusal is answered here (`Ok(error response)`, not `Err`) so that `body_guard::deadline`,
/// outside, still holds the unread body while it is sent and the connection is closed, as
/// `auth::require_token` does.
pub async fn guard<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        if let Err(refusal) = refusal(&request, &state.settings) {
            return Ok(request.error_response(refusal).map_into_right_body());
        }
    }
    Ok(next.call(request).await?.map_into_left_body())
}

/// Why the guard refuses `request`, if it does.
pub(crate) fn refusal(request: &ServiceRequest, settings: &Settings) -> Result<(), ApiError> {
    let text = |name: header::HeaderName| {
        request
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap_or(NOT_TEXT))
    };
    let host = text(header::HOST);
    if settings.api_tokens.is_empty() {
        check_host(host, &settings.allowed_hosts).map_err(ApiError::HostNotAllowed)?;
    }
    check_cross_site(
        request.method(),
        text(header::ORIGIN),
        text(header::HeaderName::from_static("sec-fetch-site")),
        host,
        &settings.allowed_origins,
    )
    .map_err(ApiError::CrossSiteRequest)
}

/// `Ok` when a hub without a token may answer a request sent to `host` (the `Host` header):
/// a loopback name ([`is_loopback_name`]) or one of `allowed` (lower-case names, see
/// `config::resolve_hosts`), with any port. A request without `Host` (HTTP/1.0) passes: every
/// browser sends one, and only a browser can be rebound.
pub fn check_host(host: Option<&str>, allowed: &[String]) -> Result<(), String> {
    let Some(host) = host else {
        return Ok(());
    };
    let lower = host.to_ascii_lowercase();
    let name = split_authority(&lower).map(|(name, _port)| name);
    match name {
        Some(name) if is_loopback_name(name) || allowed.iter().any(|a| a == name) => Ok(()),
        _ => Err(format!(
            "this hub answers only to loopback names (127.0.0.1, localhost, [::1]) and to the \
             names in allowed_hosts, and `{host}` is neither: a page whose domain was pointed at \
             this machine (DNS rebinding) looks like this. If you reach the hub by that name \
             (a reverse proxy, a hosts-file entry), add it to allowed_hosts in the config file, \
             OBS_HUB_ALLOWED_HOSTS or --allowed-hosts"
        )),
    }
}

/// Whether `name` (lower-case, as split from `Host`) can only mean this machine, whatever DNS
/// says: `localhost`, an address in 127.0.0.0/8 in any spelling an IPv4 parser takes
/// (`127.1`, `2130706433`, `0x7f000001`), or `[::1]` and IPv4-mapped loopback in brackets.
/// Browsers resolve none of these through DNS, so no attacker can rebind them.
pub fn is_loopback_name(name: &str) -> bool {
    if name == "localhost" {
        return true;
    }
    if let Some(inside) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inside.parse::<Ipv6Addr>().is_ok_and(|address| {
            address.is_loopback() || address.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        });
    }
    parse_ipv4_any_form(name).is_some_and(|address| address.is_loopback())
}

/// An IPv4 address in the forms `inet_aton` accepts: one to four parts separated by dots, each
/// decimal, `0x` hexadecimal or `0`-prefixed octal, the last filling the remaining bytes.
fn parse_ipv4_any_form(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let number = if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        };
        numbers.push(number);
    }
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&byte| byte > 255) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if last_bits < 32 && *last >= 1 << last_bits {
        return None;
    }
    let mut value = *last;
    for (index, &byte) in leading.iter().enumerate() {
        value |= byte << (24 - 8 * index as u32);
    }
    Some(Ipv4Addr::from(value))
}

/// `Ok` when a request may proceed as far as its origin goes. GET, HEAD and OPTIONS change
/// nothing and always pass (reading is what CORS and `ws_access` are about). Otherwise:
///
/// - an `Origin` listed in `allowed` passes, even `Sec-Fetch-Site: cross-site`: the operator
///   named that site;
/// - `Sec-Fetch-Site: cross-site` is refused, with or without `Origin` (a browser that withheld
///   its `Origin` still tells where the request came from);
/// - another `Origin` passes only if it is the hub's own (host and port of `Host`, which
///   [`check_host`] has vouched for). `Sec-Fetch-Site: same-site` gives no trust of its own:
///   a page on another port of the same machine (`localhost:5173` against `localhost:8000`) is
///   "same-site", and is exactly the kind of page this refuses;
/// - no `Origin` and no cross-site mark: not a browser (curl, a script, another hub), passes.
pub fn check_cross_site(
    method: &Method,
    origin: Option<&str>,
    fetch_site: Option<&str>,
    host: Option<&str>,
    allowed: &[String],
) -> Result<(), String> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let cross_site = fetch_site.is_some_and(|site| site.trim().eq_ignore_ascii_case("cross-site"));
    let normalized = origin.and_then(normalize_origin);
    if normalized.as_ref().is_some_and(|o| allowed.contains(o)) {
        return Ok(());
    }
    let own = normalized.as_deref().is_some_and(|o| same_origin(o, host));
    // Not a browser (no Origin), or the hub's own page; neither marked cross-site.
    if !cross_site && (origin.is_none() || own) {
        return Ok(());
    }
    let from = origin.unwrap_or("another site (Sec-Fetch-Site: cross-site)");
    Err(format!(
        "a page from `{from}` may not change anything on this hub (a cross-site request); if \
         that site is yours, add its origin to allowed_origins in the config file or \
         OBS_HUB_ALLOWED_ORIGINS. Programs other than browsers send no Origin and are not \
         affected"
    ))
}

/// Whether the normalised `origin` names the host and port the request was sent to. The scheme
/// is not compared: behind a TLS-terminating proxy the page is https and the hub sees http.
pub fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host.map(str::to_ascii_lowercase) else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = if scheme == "https" { "443" } else { "80" };
    let Some((origin_host, origin_port)) = split_authority(authority) else {
        return false;
    };
    let Some((request_host, request_port)) = split_authority(&host) else {
        return false;
    };
    origin_host == request_host
        && origin_port.unwrap_or(default_port) == request_port.unwrap_or(default_port)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: &[String] = &[];

    #[test]
    fn loopback_names_in_every_spelling() {
        for name in [
            "localhost",
            "127.0.0.1",
            "127.1.2.3",
            "127.1",
            "2130706433",
            "0x7f000001",
            "0x7f.1",
            "0177.0.0.1",
            "[::1]",
            "[0:0:0:0:0:0:0:1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
        ] {
            assert!(is_loopback_name(name), "{name}");
        }
        for name in [
            "attacker.test",
            "localhost.attacker.test",
            "127.0.0.1.attacker.test",
            "128.0.0.1",
            "0.0.0.0",
            "10.0.0.1",
            "1.2.3.4.5",
            "127.0.0.256",
            "127.0.0.1.",
            "[::2]",
            "[::ffff:10.0.0.1]",
            "::1",
            "",
        ] {
            assert!(!is_loopback_name(name), "{name}");
        }
    }

    #[test]
    fn loopback_hosts_pass_with_or_without_port() {
        for host in [
            "127.0.0.1:8000",
            "127.0.0.1",
            "LOCALHOST:8000",
            "localhost",
            "[::1]:8000",
            "[::1]",
        ] {
            assert!(check_host(Some(host), NONE).is_ok(), "{host}");
        }
        // No Host at all (HTTP/1.0): not a browser, nothing to rebind.
        assert!(check_host(None, NONE).is_ok());
    }

    #[test]
    fn other_hosts_are_refused_with_the_way_out() {
        for host in [
            "attacker.test:8000",
            "attacker.test",
            "127.0.0.1@attacker.test",
            "localhost.:8000",
            "(not text)",
            "",
        ] {
            let reason = check_host(Some(host), NONE).unwrap_err();
            assert!(reason.contains("allowed_hosts"), "{reason}");
            assert!(reason.contains("OBS_HUB_ALLOWED_HOSTS"), "{reason}");
        }
    }

    #[test]
    fn allowed_hosts_pass_in_any_case_and_with_any_port() {
        let allowed = vec!["hub.example.com".to_string()];
        for host in [
            "hub.example.com",
            "HUB.example.com:8443",
            "hub.example.com:80",
        ] {
            assert!(check_host(Some(host), &allowed).is_ok(), "{host}");
        }
        assert!(check_host(Some("other.example.com"), &allowed).is_err());
        assert!(check_host(Some("sub.hub.example.com"), &allowed).is_err());
    }

    fn cross(
        method: Method,
        origin: Option<&str>,
        fetch_site: Option<&str>,
        allowed: &[String],
    ) -> Result<(), String> {
        check_cross_site(&method, origin, fetch_site, Some("127.0.0.1:8000"), allowed)
    }

    #[test]
    fn reads_are_never_refused_here() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(cross(
                method,
                Some("http://evil.example"),
                Some("cross-site"),
                NONE
            )
            .is_ok());
        }
    }

    #[test]
    fn changes_from_other_sites_are_refused() {
        for method in [Method::POST, Method::PATCH, Method::DELETE, Method::PUT] {
            for (origin, site) in [
                (Some("http://evil.example"), Some("cross-site")),
                (Some("http://evil.example"), None),
                (Some("http://localhost:8000"), Some("cross-site")),
                (Some("http://localhost:5173"), Some("same-site")),
                (Some("http://127.0.0.1:9000"), None),
                (Some("null"), Some("cross-site")),
                (Some("null"), None),
                (None, Some("cross-site")),
                (None, Some("CROSS-SITE")),
            ] {
                let reason = cross(method.clone(), origin, site, NONE).unwrap_err();
                assert!(reason.contains("OBS_HUB_ALLOWED_ORIGINS"), "{reason}");
                if let Some(origin) = origin {
                    assert!(reason.contains(origin), "{reason}");
                }
            }
        }
    }

    #[test]
    fn changes_from_the_hub_itself_allowed_origins_and_programs_pass() {
        let allowed = vec!["https://dash.example.com".to_string()];
        for (origin, site) in [
            (Some("http://127.0.0.1:8000"), Some("same-origin")),
            (Some("http://127.0.0.1:8000"), None),
            (Some("https://dash.example.com"), Some("cross-site")),
            (Some("HTTPS://Dash.Example.com:443"), None),
            (None, None),
            (None, Some("none")),
            (None, Some("same-origin")),
        ] {
            assert!(
                cross(Method::POST, origin, site, &allowed).is_ok(),
                "{origin:?} {site:?}"
            );
        }
    }

    #[test]
    fn same_origin_compares_host_and_port() {
        assert!(same_origin("http://127.0.0.1:8000", Some("127.0.0.1:8000")));
        assert!(same_origin("http://studio.lan", Some("studio.lan:80")));
        assert!(same_origin(
            "https://hub.example.com",
            Some("HUB.example.com")
        ));
        assert!(!same_origin(
            "http://127.0.0.1:9000",
            Some("127.0.0.1:8000")
        ));
        assert!(!same_origin(
            "http://localhost:8000",
            Some("127.0.0.1:8000")
        ));
        assert!(!same_origin("http://127.0.0.1:8000", None));
    }
}
