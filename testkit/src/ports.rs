//! Loopback ports for tests: one that is free right now, for a server the test starts in another
//! process (nginx, LocalStack, a binary under test) that must be told its port; and one that
//! refuses connections for as long as the test holds it.
//!
//! [`free_port`] binds `127.0.0.1:0`, reads the port and closes the listener again: the port is
//! free only for a moment, and another test running in parallel may be handed it before the
//! caller's server binds it. Servers in the test process bind `127.0.0.1:0` themselves instead;
//! a caller that cannot should retry on another port when its server fails to bind.
//!
//! A port freed that way is also no "connection refused" target: a stranger (a local gateway's
//! nginx, a stub) may be listening on it by the time the test connects, and the test that expected
//! a refusal sees a 401 from it instead. [`RefusedPort`] keeps a socket bound to the port without
//! listening on it: the kernel answers every connection attempt with a reset, and no other socket
//! can bind the port (it is bound without `SO_REUSEADDR`) until the value is dropped.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

/// A loopback port that was free a moment ago (see the module doc for the race this leaves).
///
/// Panics when no loopback port can be bound, which fails the test that asked.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a test machine can bind a free loopback port")
        .port()
}

/// A loopback port nobody listens on, reserved until dropped.
#[derive(Debug)]
pub struct RefusedPort {
    /// Held only to keep the port bound; dropping it releases the port.
    _socket: Socket,
    addr: SocketAddr,
}

impl RefusedPort {
    /// Reserves a free loopback port without listening on it.
    pub fn reserve() -> io::Result<RefusedPort> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
        let addr = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("a bound IPv4 socket without a socket address"))?;
        Ok(RefusedPort {
            _socket: socket,
            addr,
        })
    }

    /// The address: `127.0.0.1` and the reserved port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_refused_and_nobody_else_can_bind_the_port() {
        let port = RefusedPort::reserve().expect("reserve");
        assert_eq!(port.addr().ip(), Ipv4Addr::LOCALHOST);
        for _ in 0..3 {
            let err = std::net::TcpStream::connect(port.addr()).expect_err("nobody listens");
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        }
        // Neither a plain listener (std) nor one with SO_REUSEADDR (tokio, nginx) gets it.
        let err = std::net::TcpListener::bind(port.addr()).expect_err("the port is reserved");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        let reuse = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        reuse.set_reuse_address(true).expect("SO_REUSEADDR");
        let err = reuse
            .bind(&port.addr().into())
            .expect_err("SO_REUSEADDR does not take a port bound without it");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert_eq!(
            port.base_url(),
            format!("http://127.0.0.1:{}", port.addr().port())
        );
        // Released on drop: the port can be listened on again.
        let addr = port.addr();
        drop(port);
        let again = std::net::TcpListener::bind(addr).expect("free after drop");
        assert_eq!(again.local_addr().expect("addr"), addr);
    }
}
