//! Facts about the client that the audit log and login throttling need: its IP address and its
//! user agent. The address is the peer's, unless the peer is one of `LETHE_TRUSTED_PROXIES`:
//! then `X-Forwarded-For` is read from the right, and the client is the first address that is
//! not a trusted proxy (the left part of the header is whatever the client sent).

use std::future::{Ready, ready};
use std::net::{IpAddr, SocketAddr};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use ipnet::IpNet;

use super::error::AppError;
use crate::state::AppState;

#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The client of this request.
    pub fn of(req: &HttpRequest) -> Self {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.trusted_proxies.as_slice())
            .unwrap_or_default();
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = client_ip(req.peer_addr().map(|a| a.ip()), &forwarded, trusted)
            .map(|ip| ip.to_string());
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(300).collect());
        ClientInfo { ip, user_agent }
    }
}

impl ClientInfo {
    /// The device as the sessions list shows it: browser and operating system, read from
    /// the User-Agent ("Firefox on Linux"); None without a User-Agent.
    pub fn device(&self) -> Option<String> {
        self.user_agent.as_deref().map(describe_device)
    }
}

/// Browser and operating system named by a User-Agent, e.g. "Chrome on Windows".
pub fn describe_device(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") || ua.contains("Opera") {
        "Opera"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chromium/") {
        "Chromium"
    } else if ua.contains("Chrome/") || ua.contains("CriOS/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else {
        "Unknown browser"
    };
    let os = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("CrOS") {
        "ChromeOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    if os.is_empty() {
        browser.to_owned()
    } else {
        format!("{browser} on {os}")
    }
}

/// The client's address: the peer, or — while the hop is a trusted proxy — the address it
/// forwarded for, read from the right of the `X-Forwarded-For` values (in header order). An
/// entry that is not an address ends the walk at the last trusted hop.
pub fn client_ip(peer: Option<IpAddr>, forwarded: &[&str], trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer?.to_canonical();
    let hops = forwarded.iter().rev().flat_map(|v| v.rsplit(','));
    for hop in hops {
        if !is_trusted(&client) {
            break;
        }
        let Some(ip) = parse_hop(hop.trim()) else {
            break;
        };
        client = ip;
    }
    Some(client)
}

/// `1.2.3.4`, `2001:db8::1`, or either with a port (`1.2.3.4:80`, `[2001:db8::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

impl FromRequest for ClientInfo {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientInfo::of(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_browser_and_operating_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe_device(firefox), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(describe_device(chrome), "Chrome on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_device(safari), "Safari on iOS");
        assert_eq!(describe_device("something"), "Unknown browser");
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let peer = Some(ip("203.0.113.9"));
        assert_eq!(client_ip(peer, &["1.2.3.4"], &[]), peer);
        let untrusted_peer = client_ip(peer, &["1.2.3.4"], &nets(&["10.0.0.0/8"]));
        assert_eq!(untrusted_peer, peer);
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.1/32"]);
        let peer = Some(ip("10.0.0.2"));
        // The client forged the leftmost entry; the proxies appended the rest.
        let header = ["6.6.6.6, 198.51.100.7, 192.168.1.1"];
        assert_eq!(client_ip(peer, &header, &trusted), Some(ip("198.51.100.7")));
        // Several headers read as one list, in order.
        let headers = ["6.6.6.6", "198.51.100.7:4711", "192.168.1.1"];
        assert_eq!(
            client_ip(peer, &headers, &trusted),
            Some(ip("198.51.100.7"))
        );
        // Every hop trusted: the leftmost is the client.
        assert_eq!(
            client_ip(peer, &["10.1.1.1"], &trusted),
            Some(ip("10.1.1.1"))
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            client_ip(peer, &["6.6.6.6, unknown"], &trusted),
            Some(ip("10.0.0.2"))
        );
        // IPv6 and IPv4-mapped addresses.
        let v6 = nets(&["2001:db8::/32"]);
        let peer6 = Some(ip("2001:db8::1"));
        assert_eq!(
            client_ip(peer6, &["[2a00:1450::5]:443"], &v6),
            Some(ip("2a00:1450::5"))
        );
        assert_eq!(
            client_ip(Some(ip("::ffff:10.0.0.2")), &["198.51.100.7"], &trusted),
            Some(ip("198.51.100.7"))
        );
    }
}
