//! Where Lethe may connect (no SSRF): a mail server's host name is resolved here, and every
//! address in loopback, private, link-local (cloud metadata included), shared, reserved or
//! multicast ranges is refused unless the operator sets `LETHE_ALLOW_PRIVATE_HOSTS=true`, so
//! a shop admin who types `169.254.169.254` or a name that resolves to `127.0.0.1` cannot make
//! the server talk to its own network. An IPv6 address that carries an IPv4 one (mapped,
//! NAT64, 6to4) is judged by that IPv4 address; Teredo is refused. Connections then go to the addresses checked here, not
//! to a second lookup of the name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The operator's egress policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Egress {
    allow_private: bool,
}

/// Why a host may not be reached.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EgressError {
    #[error("\"{host}\": {reason}")]
    Lookup { host: String, reason: String },
    #[error(
        "\"{host}\" is {address}, an address on a private, loopback or link-local network; \
         the server may connect there only when LETHE_ALLOW_PRIVATE_HOSTS=true"
    )]
    Private { host: String, address: IpAddr },
    #[error("HTTP client: {0}")]
    Client(String),
}

impl Egress {
    /// Only public addresses.
    pub const PUBLIC_ONLY: Egress = Egress {
        allow_private: false,
    };

    pub const fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    /// Resolves `host:port` and returns its addresses, refusing them all when any is not
    /// public (a name that also points inside is not trusted for its outside address).
    pub async fn resolve(self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| EgressError::Lookup {
                host: host.to_owned(),
                reason: e.to_string(),
            })?
            .collect();
        if addresses.is_empty() {
            return Err(EgressError::Lookup {
                host: host.to_owned(),
                reason: "no address".into(),
            });
        }
        if !self.allow_private
            && let Some(private) = addresses.iter().find(|a| !is_public(a.ip()))
        {
            return Err(EgressError::Private {
                host: host.to_owned(),
                address: private.ip(),
            });
        }
        Ok(addresses)
    }

    /// An HTTP client that reaches `host` only at the addresses checked here (no second
    /// lookup), follows no redirect, ignores `HTTP(S)_PROXY` (a proxy would make the
    /// connection the checked addresses do not cover) and speaks TLS with rustls.
    pub async fn http_client(self, host: &str, port: u16) -> Result<reqwest::Client, EgressError> {
        let addresses = self.resolve(host, port).await?;
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .resolve_to_addrs(host, &addresses)
            .build()
            .map_err(|e| EgressError::Client(e.to_string()))
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 address stands for, where it carries one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`, what DNS64
/// answers on an IPv6-only server) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] && !(ip.is_loopback() || ip.is_unspecified()) {
        return Some(low(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    None
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254, cloud metadata, included)
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x2001 && ip.segments()[1] == 0 // Teredo (hides an IPv4 address)
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // local-use NAT64 (64:ff9b:1::/48)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_not_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "::a00:1",
            "2002:a00:1::1",
            "2001:0:4136:e378::1",
            "ff02::1",
        ] {
            let ip: IpAddr = inside.parse().unwrap();
            assert!(!is_public(ip), "{inside} passed as public");
        }
        for outside in [
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2a00:1450:4001::1",
            "64:ff9b::101:101",
            "2002:101:101::1",
        ] {
            let ip: IpAddr = outside.parse().unwrap();
            assert!(is_public(ip), "{outside} refused");
        }
    }

    #[tokio::test]
    async fn a_name_or_literal_that_points_inside_is_refused_unless_allowed() {
        for host in ["localhost", "127.0.0.1", "169.254.169.254", "[::1]"] {
            let host = host.trim_matches(|c| c == '[' || c == ']');
            let refused = Egress::PUBLIC_ONLY.resolve(host, 993).await;
            assert!(
                matches!(refused, Err(EgressError::Private { .. })),
                "{host}: {refused:?}"
            );
            assert!(
                refused
                    .unwrap_err()
                    .to_string()
                    .contains("LETHE_ALLOW_PRIVATE_HOSTS")
            );
        }
        let allowed = Egress::new(true).resolve("127.0.0.1", 993).await.unwrap();
        assert_eq!(allowed, vec!["127.0.0.1:993".parse().unwrap()]);
    }
}
