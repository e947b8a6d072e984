//! Where webhooks made through the API may go: the destination policy.
//!
//! Plain functions over addresses and URLs. The policy is applied twice: to the URL when an
//! endpoint is created or changed ([`DestinationPolicy::check_url`], a clear 400 at once), and
//! to every address a name resolves to, at every connection ([`DestinationPolicy::check_address`],
//! called by [`connector`](super::connector)), because a name can answer differently from one
//! minute to the next (DNS rebinding). Endpoints from the config file and the callback base URL
//! are the operator's own word and are not checked.
//!
//! - Always refused: unspecified (`0.0.0.0/8`, `::`), link-local (`169.254/16`, `fe80::/10`,
//!   where cloud metadata services answer), multicast, broadcast and reserved (`240/4`) addresses.
//! - Refused unless the configuration allows them: loopback (`127/8`, `::1`; allowed by default,
//!   so local receivers work) and private ranges (`10/8`, `172.16/12`, `192.168/16`,
//!   `100.64/10`, `fc00::/7`, `fec0::/10`; refused by default).
//! - Always refused: the hub's own listening address (a webhook to itself loops).
//! - An IPv6 address that carries an IPv4 one (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64
//!   `64:ff9b::a.b.c.d`) is judged as that IPv4 address.
//! - IPv4 written in another form than `a.b.c.d` (`2130706433`, `0x7f000001`, `0177.1`) is
//!   refused in URLs: resolvers read these forms but URL parsers and people disagree on them,
//!   and no receiver needs them. At connection time whatever the resolver made of a name is
//!   judged anyway.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// What the configuration allows beyond the public internet (`[webhook_delivery]`).
pub use crate::config::webhook_settings::DestinationRules;

/// What an address is, as far as the policy cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Unspecified,
    Multicast,
    Broadcast,
    Reserved,
}

/// The IPv4 address an IPv6 one carries, if it carries one the network would deliver to:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated) and NAT64
/// (`64:ff9b::a.b.c.d`). `::` and `::1` are IPv6's own.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let segments = ip.segments();
    let tail = Ipv4Addr::new(
        (segments[6] >> 8) as u8,
        segments[6] as u8,
        (segments[7] >> 8) as u8,
        segments[7] as u8,
    );
    let compatible = segments[..6].iter().all(|s| *s == 0) && u32::from(tail) > 1;
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (compatible || nat64).then_some(tail)
}

/// `ip` as the network treats it: an IPv6 address carrying an IPv4 one is that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub fn classify(ip: IpAddr) -> AddressKind {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressKind {
    let [a, b, ..] = ip.octets();
    if a == 0 {
        // 0.0.0.0/8, "this network": connecting to it reaches this machine.
        AddressKind::Unspecified
    } else if ip.is_loopback() {
        AddressKind::Loopback
    } else if ip.is_broadcast() {
        AddressKind::Broadcast
    } else if ip.is_link_local() {
        AddressKind::LinkLocal
    } else if ip.is_multicast() {
        AddressKind::Multicast
    } else if a >= 240 {
        AddressKind::Reserved
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        // 100.64/10 is carrier-grade NAT, also where some clouds put their metadata service.
        AddressKind::Private
    } else {
        AddressKind::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressKind {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        AddressKind::Unspecified
    } else if ip.is_loopback() {
        AddressKind::Loopback
    } else if ip.is_multicast() {
        AddressKind::Multicast
    } else if first & 0xffc0 == 0xfe80 {
        AddressKind::LinkLocal
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        // Unique local (fc00::/7) and the deprecated site-local (fec0::/10).
        AddressKind::Private
    } else {
        AddressKind::Public
    }
}

/// Whether `ip` is one of this machine's addresses: binding a socket to it works only then (no
/// packet is sent). Used for the hub's own address when it listens on all of them.
pub fn is_local_address(ip: IpAddr) -> bool {
    UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The policy for endpoints created through the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationPolicy {
    rules: DestinationRules,
    /// Where the hub listens (None: no HTTP server, as in the benchmark's dispatcher).
    own: Option<SocketAddr>,
}

impl DestinationPolicy {
    pub fn new(rules: DestinationRules, own: Option<SocketAddr>) -> Self {
        Self { rules, own }
    }

    /// Checks one address a delivery would connect to; the error says why, in words.
    /// `is_local` tells whether an address is this machine's (see [`is_local_address`]).
    pub fn check_address(
        &self,
        address: SocketAddr,
        is_local: impl Fn(IpAddr) -> bool,
    ) -> Result<(), String> {
        let ip = canonical(address.ip());
        let kind = classify(ip);
        let always = match kind {
            AddressKind::Unspecified => Some("an unspecified address (it reaches this machine)"),
            AddressKind::LinkLocal => {
                Some("a link-local address (where cloud metadata services answer)")
            }
            AddressKind::Multicast => Some("a multicast address"),
            AddressKind::Broadcast => Some("a broadcast address"),
            AddressKind::Reserved => Some("a reserved address"),
            _ => None,
        };
        if let Some(what) = always {
            return Err(format!("{ip} is {what}"));
        }
        if let Some(own) = self.own.filter(|own| own.port() == address.port()) {
            let own_ip = canonical(own.ip());
            let reaches_the_hub = if own_ip.is_unspecified() {
                kind == AddressKind::Loopback || is_local(ip)
            } else if own_ip.is_loopback() {
                kind == AddressKind::Loopback
            } else {
                ip == own_ip
            };
            if reaches_the_hub {
                return Err(format!(
                    "{} is this hub's own address (it listens on {own}): a webhook to itself \
                     would loop",
                    SocketAddr::new(ip, address.port())
                ));
            }
        }
        match kind {
            AddressKind::Loopback if !self.rules.allow_loopback => Err(format!(
                "{ip} is a loopback address (allow with [webhook_delivery] allow_loopback = true)"
            )),
            AddressKind::Private if !self.rules.allow_private => Err(format!(
                "{ip} is a private address (allow with [webhook_delivery] allow_private = true)"
            )),
            AddressKind::Public if !self.rules.allow_public => Err(format!(
                "{ip} is a public address (allow with [webhook_delivery] allow_public = true; \
                 `obs-hub demo` sends webhooks only to this machine)"
            )),
            _ => Ok(()),
        }
    }

    /// Checks an endpoint's URL (already a valid http(s) URL) when it is created or changed:
    /// what can be known without resolving a name. Names are checked at every connection.
    pub fn check_url(&self, url: &str, is_local: impl Fn(IpAddr) -> bool) -> Result<(), String> {
        let uri: awc::http::Uri = url
            .parse()
            .map_err(|error| format!("`{url}` is not a valid URL: {error}"))?;
        let host = uri.host().unwrap_or_default();
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        for ip in literal_addresses(host)? {
            self.check_address(SocketAddr::new(ip, port), &is_local)?;
        }
        Ok(())
    }
}

/// The addresses a URL's host stands for without asking DNS: an IP literal, or the loopback
/// addresses for `localhost` names. Empty for other names. IPv4 in another form than `a.b.c.d`
/// is refused.
fn literal_addresses(host: &str) -> Result<Vec<IpAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let name = bare.trim_end_matches('.').to_ascii_lowercase();
    // A host whose last label is a number is an IPv4 address to URL parsers and resolvers alike
    // (2130706433, 0x7f000001, 127.1, 0177.0.0.1): refused, as no name ends in a number.
    let last = name.rsplit('.').next().unwrap_or_default();
    let numeric = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit())));
    if numeric {
        return Err(format!(
            "`{host}` is an IPv4 address in a form other than a.b.c.d (integer, hex, octal or \
             shortened): write it as four decimal numbers"
        ));
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn not_local(_: IpAddr) -> bool {
        false
    }

    /// A policy that lets only public destinations through (no own-address reference).
    fn public_only() -> DestinationPolicy {
        DestinationPolicy::new(
            DestinationRules {
                allow_loopback: false,
                allow_private: false,
                allow_public: true,
            },
            None,
        )
    }

    /// Classification only: these addresses are data, never connected to.
    #[test]
    fn addresses_are_classified_with_embedded_ipv4_judged_as_ipv4() {
        use AddressKind::*;
        for (text, kind) in [
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("::127.0.0.1", Loopback),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("::ffff:0.0.0.0", Unspecified),
            ("169.254.169.254", LinkLocal),
            ("::ffff:169.254.169.254", LinkLocal),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("224.0.0.1", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.20", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("::ffff:10.0.0.1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("172.32.0.1", Public),
            ("100.128.0.1", Public),
            ("93.184.216.34", Public),
            ("2606:2800:220:1::1", Public),
        ] {
            assert_eq!(classify(ip(text)), kind, "{text}");
        }
    }

    #[test]
    fn the_rules_decide_loopback_and_private_and_the_rest_is_always_refused() {
        let default = DestinationPolicy::new(DestinationRules::default(), None);
        let strict = public_only();
        let open = DestinationPolicy::new(
            DestinationRules {
                allow_loopback: true,
                allow_private: true,
                allow_public: true,
            },
            None,
        );
        let at = |text: &str| SocketAddr::new(ip(text), 9000);
        assert!(default.check_address(at("127.0.0.1"), not_local).is_ok());
        assert!(default
            .check_address(at("93.184.216.34"), not_local)
            .is_ok());
        let private = default
            .check_address(at("192.168.1.20"), not_local)
            .unwrap_err();
        assert!(private.contains("allow_private"), "{private}");
        assert!(open.check_address(at("192.168.1.20"), not_local).is_ok());
        let local_only = DestinationPolicy::new(
            DestinationRules {
                allow_public: false,
                ..DestinationRules::default()
            },
            None,
        );
        let public = local_only
            .check_address(at("93.184.216.34"), not_local)
            .unwrap_err();
        assert!(public.contains("allow_public"), "{public}");
        assert!(local_only.check_address(at("127.0.0.1"), not_local).is_ok());
        let loopback = strict
            .check_address(at("::ffff:7f00:1"), not_local)
            .unwrap_err();
        assert!(
            loopback.contains("127.0.0.1") && loopback.contains("allow_loopback"),
            "{loopback}"
        );
        for always in ["0.0.0.0", "::", "169.254.169.254", "fe80::1", "224.0.0.1"] {
            assert!(
                open.check_address(at(always), not_local).is_err(),
                "{always}"
            );
        }
    }

    #[test]
    fn the_hubs_own_listening_address_is_refused() {
        let own = |bind: &str| {
            DestinationPolicy::new(DestinationRules::default(), Some(bind.parse().unwrap()))
        };
        let loopback = own("127.0.0.1:8000");
        for (target, refused) in [
            ("127.0.0.1:8000", true),
            ("[::1]:8000", true),
            ("[::ffff:7f00:1]:8000", true),
            ("127.0.0.1:8001", false),
        ] {
            let result = loopback.check_address(target.parse().unwrap(), not_local);
            assert_eq!(result.is_err(), refused, "{target}: {result:?}");
        }
        let error = loopback
            .check_address("127.0.0.1:8000".parse().unwrap(), not_local)
            .unwrap_err();
        assert!(error.contains("own address"), "{error}");
        // Listening everywhere: any address of this machine on that port.
        let everywhere = own("0.0.0.0:8000");
        let local = |candidate: IpAddr| candidate == ip("192.168.1.5");
        assert!(everywhere
            .check_address("127.0.0.1:8000".parse().unwrap(), not_local)
            .is_err());
        assert!(everywhere
            .check_address("192.168.1.5:8000".parse().unwrap(), local)
            .is_err());
        assert!(everywhere
            .check_address("93.184.216.34:8000".parse().unwrap(), local)
            .is_ok());
        let specific = own("[2001:db8::5]:8000");
        assert!(specific
            .check_address("[2001:db8::5]:8000".parse().unwrap(), not_local)
            .is_err());
        assert!(specific
            .check_address("127.0.0.1:8000".parse().unwrap(), not_local)
            .is_ok());
        // Binding to them is how local addresses are told: loopback is always one.
        assert!(is_local_address(ip("127.0.0.1")));
    }

    #[test]
    fn urls_are_judged_by_their_literal_host_and_odd_ipv4_forms_are_refused() {
        let policy = DestinationPolicy::new(
            DestinationRules::default(),
            Some("127.0.0.1:8000".parse().unwrap()),
        );
        let check = |url: &str| policy.check_url(url, not_local);
        assert!(check("http://127.0.0.1:9000/hooks").is_ok());
        assert!(check("https://example.com/hooks").is_ok());
        assert!(check("http://[::ffff:7f00:1]:9000/in").is_ok());
        for (url, mentions) in [
            ("http://0.0.0.0:9000/", "unspecified"),
            ("http://[::]:9000/", "unspecified"),
            ("http://2130706433:9000/", "a.b.c.d"),
            ("http://0x7f000001:9000/", "a.b.c.d"),
            ("http://0177.0.0.1:9000/", "a.b.c.d"),
            ("http://127.1:9000/", "a.b.c.d"),
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("http://127.0.0.1:8000/api/webhooks/", "own address"),
            ("http://localhost:8000/api/", "own address"),
            ("http://[::ffff:7f00:1]:8000/api/", "own address"),
            ("http://10.0.0.1/", "private"),
        ] {
            let error = check(url).unwrap_err();
            assert!(error.contains(mentions), "{url}: {error}");
        }
        let strict = public_only();
        for url in [
            "http://127.0.0.1:9000/",
            "http://localhost:9000/",
            "http://api.LOCALHOST.:9000/",
            "http://[::1]:9000/",
        ] {
            assert!(strict.check_url(url, not_local).is_err(), "{url}");
        }
    }
}
