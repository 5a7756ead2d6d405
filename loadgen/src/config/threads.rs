//! The default of `--threads`: how many generator threads a run gets when the flag is not
//! given. A target on this machine shares its CPUs with the generator, and a generator that
//! takes every CPU then competes with the server it measures (more context switches, less
//! for the server), so it gets half of them; a remote target leaves the machine to the
//! generator, which gets one thread per CPU. docs/performance.md has the measurements behind
//! the rule and `scripts/bench-loadgen.sh` repeats them.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use super::request::Endpoint;

/// Generator threads for `cpus` usable CPUs: half of them (at least 1) when the target runs
/// on this machine (`target_is_local`), all of them otherwise.
pub(crate) fn default_threads(cpus: usize, target_is_local: bool) -> usize {
    if target_is_local {
        (cpus / 2).max(1)
    } else {
        cpus.max(1)
    }
}

/// The default of `--threads` for a run against `endpoint` on this machine's usable CPUs
/// (its affinity mask and cgroup quota, as `std::thread::available_parallelism` reads them).
pub(crate) fn default_threads_for(endpoint: &Endpoint) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    default_threads(cpus, host_is_local(endpoint.base.host().unwrap_or("")))
}

/// Whether `host` (a URL's host: a name, an IPv4 address or a bracketed IPv6 one) is this
/// machine: `localhost` or a name under it (RFC 6761 reserves them for loopback), a loopback
/// or unspecified address, or an address of one of this machine's interfaces (one that a
/// socket can bind to; nothing is sent). Other names are taken as remote without a DNS lookup.
pub(crate) fn host_is_local(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(&host);
    match bare.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() || ip.is_unspecified() => true,
        Ok(ip) => UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_target_gets_half_the_cpus_and_a_remote_one_all_of_them() {
        for (cpus, local, want) in [
            (1, true, 1),
            (2, true, 1),
            (3, true, 1),
            (4, true, 2),
            (16, true, 8),
            (1, false, 1),
            (2, false, 2),
            (16, false, 16),
            (0, true, 1),
            (0, false, 1),
        ] {
            assert_eq!(
                default_threads(cpus, local),
                want,
                "{cpus} CPUs, target local: {local}"
            );
        }
    }

    #[test]
    fn loopback_names_and_addresses_are_local() {
        for host in [
            "127.0.0.1",
            "127.0.1.1",
            "localhost",
            "LOCALHOST",
            "localhost.",
            "api.localhost",
            "[::1]",
            "0.0.0.0",
            "[::]",
        ] {
            assert!(host_is_local(host), "{host} is this machine");
        }
    }

    #[test]
    fn other_names_and_addresses_are_remote() {
        // 203.0.113.0/24 and 2001:db8::/32 are reserved for documentation: not an interface here.
        for host in [
            "203.0.113.7",
            "[2001:db8::1]",
            "example.com",
            "localhost.example.com",
            "mylocalhost",
            "",
        ] {
            assert!(!host_is_local(host), "{host} is not this machine");
        }
    }

    #[test]
    fn an_address_of_this_machine_is_local() {
        // The address the kernel would send from towards a documentation address is one of
        // this machine's own (connecting a UDP socket sends nothing). No route: nothing to test.
        let Ok(sock) = UdpSocket::bind("0.0.0.0:0") else {
            return;
        };
        if sock.connect("203.0.113.7:9").is_err() {
            return;
        }
        let own = sock
            .local_addr()
            .expect("a connected socket has an address")
            .ip();
        assert!(host_is_local(&own.to_string()), "{own} is this machine's");
    }

    #[test]
    fn the_default_follows_the_url_host() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let at = |url: &str| {
            default_threads_for(&Endpoint {
                base: url.parse().expect("a valid URL"),
                https: url.starts_with("https"),
            })
        };
        assert_eq!(at("http://127.0.0.1:8080/"), (cpus / 2).max(1));
        assert_eq!(at("https://localhost/"), (cpus / 2).max(1));
        assert_eq!(at("https://203.0.113.7:443/"), cpus);
        assert_eq!(at("http://api.example.com/"), cpus);
    }
}
