//! The client's address, for per-client limits.
//!
//! Behind proxies, `X-Forwarded-For` reads `client-chosen…, client, proxy1, …`: every proxy
//! appends the address it received the request from, so only the entries added by our own
//! proxies can be believed, counted from the right. The left-most entry is whatever the client
//! wrote, and trusting it would let anyone pick a fresh address for every request.

use std::net::{IpAddr, SocketAddr};

/// `peer`: the socket's peer. `forwarded_for`: every `X-Forwarded-For` header value, in order.
/// `trusted_proxies`: how many proxies of ours stand in front of the server.
pub fn resolve<'a>(
    peer: Option<SocketAddr>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted_proxies: u8,
) -> String {
    let peer_ip = peer.map(|p| canonical(p.ip()));
    if trusted_proxies == 0 {
        return peer_ip.unwrap_or_else(|| "unknown".into());
    }
    // Several headers count as one list, in order (RFC 9110 §5.3).
    let hops: Vec<&str> = forwarded_for
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    // The nearest proxy is the peer itself; it appended the address it saw as the last entry.
    // With N proxies of ours, the client is the N-th entry from the right.
    let n = usize::from(trusted_proxies);
    let chosen = if hops.len() >= n {
        Some(hops[hops.len() - n])
    } else {
        // Fewer entries than proxies: the chain is shorter than configured; the left-most entry
        // was still written by one of ours.
        hops.first().copied()
    };
    match chosen.and_then(normalise) {
        Some(ip) => ip,
        None => peer_ip.unwrap_or_else(|| "unknown".into()),
    }
}

/// Accepts an IP address (with an optional port, or in brackets) and returns it in canonical
/// form, so `::ffff:1.2.3.4`-style spellings of one client are one key.
fn normalise(hop: &str) -> Option<String> {
    let h = hop.trim();
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = h.parse::<SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    None
}

/// IPv4 as is; IPv6 reduced to its /64 network, since one host usually holds a whole /64 and
/// could otherwise take a fresh address (and a fresh budget) for every request.
fn canonical(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
        v4 => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Option<SocketAddr> {
        Some("10.0.0.1:5555".parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(resolve(peer(), ["1.2.3.4"].into_iter(), 0), "10.0.0.1");
    }

    #[test]
    fn one_proxy_takes_the_right_most_entry_not_the_client_chosen_left_one() {
        assert_eq!(
            resolve(peer(), ["6.6.6.6, 7.7.7.7, 203.0.113.9"].into_iter(), 1),
            "203.0.113.9"
        );
        // Several headers are one list.
        assert_eq!(
            resolve(peer(), ["6.6.6.6", "203.0.113.9"].into_iter(), 1),
            "203.0.113.9"
        );
    }

    #[test]
    fn two_proxies_take_the_second_from_the_right() {
        assert_eq!(
            resolve(peer(), ["6.6.6.6, 203.0.113.9, 10.1.1.1"].into_iter(), 2),
            "203.0.113.9"
        );
    }

    #[test]
    fn garbage_or_missing_falls_back_to_the_peer() {
        assert_eq!(resolve(peer(), ["not-an-ip"].into_iter(), 1), "10.0.0.1");
        assert_eq!(resolve(peer(), std::iter::empty(), 1), "10.0.0.1");
        assert_eq!(resolve(None, std::iter::empty(), 1), "unknown");
    }

    #[test]
    fn spellings_of_one_address_are_one_key() {
        assert_eq!(
            resolve(peer(), ["[::ffff:203.0.113.9]:443"].into_iter(), 1),
            "203.0.113.9"
        );
        assert_eq!(
            resolve(peer(), ["203.0.113.9:1234"].into_iter(), 1),
            "203.0.113.9"
        );
        // Every address of one IPv6 /64 is one client.
        let a = resolve(peer(), ["2001:db8:1:2:aaaa::1"].into_iter(), 1);
        let b = resolve(peer(), ["[2001:db8:1:2:ffff:1:2:3]:443"].into_iter(), 1);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, resolve(peer(), ["2001:db8:1:3::1"].into_iter(), 1));
        let v6_peer = Some("[2001:db8::5]:443".parse().unwrap());
        assert_eq!(resolve(v6_peer, std::iter::empty(), 0), "2001:db8::/64");
    }
}
