//! UDP socket.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;

use mio::Interest;

use super::source::Registered;
use super::with_addr;
use crate::RuntimeRef;
use crate::worker::sources::Direction;

/// A UDP socket, registered on the worker of the actor that made it.
pub struct UdpSocket {
    io: Registered<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (port 0 picks a free port).
    ///
    /// # Errors
    ///
    /// The OS error, with the address.
    pub fn bind(rt: &mut RuntimeRef, addr: SocketAddr) -> io::Result<UdpSocket> {
        let socket = mio::net::UdpSocket::bind(addr).map_err(|err| with_addr("bind", addr, err))?;
        let io = Registered::new(rt, socket, Interest::READABLE | Interest::WRITABLE)?;
        Ok(UdpSocket { io })
    }

    /// Sends `buf` to `target`.
    pub async fn send_to(&mut self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io
                .poll_io(Direction::Write, cx, |s| s.send_to(buf, target))
        })
        .await
    }

    /// Receives a datagram; returns its length and sender.
    pub async fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_io(Direction::Read, cx, |s| s.recv_from(buf))).await
    }

    /// Sets the default peer, for [`UdpSocket::send`] and
    /// [`UdpSocket::recv`]; datagrams from others are dropped.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.io
            .get()
            .connect(addr)
            .map_err(|err| with_addr("connect", addr, err))
    }

    /// Sends `buf` to the connected peer.
    pub async fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_io(Direction::Write, cx, |s| s.send(buf))).await
    }

    /// Receives a datagram from the connected peer.
    pub async fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_io(Direction::Read, cx, |s| s.recv(buf))).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
