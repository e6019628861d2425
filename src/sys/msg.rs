//! Vectored datagrams: `sendmsg` and `recvmsg` with several buffers, for
//! UDP sockets (`mio` has no vectored calls for them); and receives into
//! the rooms of [`Bytes`](crate::bytes::Bytes) buffers, which need not be
//! initialised (`recvmsg` for sockets, `readv` for pipes).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::RawFd;

use super::sockaddr::SockAddr;
use crate::bytes::Spare;

/// Sends the buffers as one datagram, to `to` or (`None`) to the connected
/// peer.
pub(crate) fn send_vectored(
    fd: RawFd,
    bufs: &[IoSlice<'_>],
    to: Option<SocketAddr>,
) -> io::Result<usize> {
    let addr = to.map(SockAddr::from);
    // SAFETY: `msghdr` is plain data, valid all zero (no name, no
    // control data); the fields set below point to live memory.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(addr) = &addr {
        msg.msg_name = addr.as_ptr().cast_mut().cast();
        msg.msg_namelen = addr.len();
    }
    // `IoSlice` has the layout of `iovec` on Unix (std's guarantee).
    msg.msg_iov = bufs.as_ptr().cast_mut().cast();
    msg.msg_iovlen = bufs.len();
    // SAFETY: `fd` is the caller's open socket; `msg` points to `addr`
    // and `bufs`, which live across the call, and the kernel only reads
    // them.
    let sent = unsafe { libc::sendmsg(fd, &raw const msg, libc::MSG_NOSIGNAL) };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

/// Receives one datagram into the buffers: its length and sender.
pub(crate) fn recv_vectored(
    fd: RawFd,
    bufs: &mut [IoSliceMut<'_>],
) -> io::Result<(usize, Option<SocketAddr>)> {
    let mut addr = SockAddr::empty();
    // SAFETY: as in `send_vectored`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = addr.as_mut_ptr().cast();
    msg.msg_namelen = addr.len();
    // `IoSliceMut` has the layout of `iovec` on Unix (std's guarantee).
    msg.msg_iov = bufs.as_mut_ptr().cast();
    msg.msg_iovlen = bufs.len();
    // SAFETY: `fd` is the caller's open socket; `msg` points to `addr` and
    // `bufs`, which live across the call and which the kernel may write
    // up to the lengths given.
    let received = unsafe { libc::recvmsg(fd, &raw mut msg, 0) };
    let len = usize::try_from(received).map_err(|_| io::Error::last_os_error())?;
    addr.set_len(msg.msg_namelen);
    Ok((len, addr.to_socket_addr()))
}

/// `recvmsg(2)` into the rooms, in order, with `flags` (`MSG_PEEK`): how
/// many bytes, and the sender if it has an IP address.
pub(crate) fn recv_spare(
    fd: RawFd,
    bufs: &mut [Spare<'_>],
    flags: libc::c_int,
) -> io::Result<(usize, Option<SocketAddr>)> {
    let mut addr = SockAddr::empty();
    // SAFETY: as in `send_vectored`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = addr.as_mut_ptr().cast();
    msg.msg_namelen = addr.len();
    // `Spare` has the layout of `iovec` (`repr(transparent)`).
    msg.msg_iov = bufs.as_mut_ptr().cast();
    msg.msg_iovlen = bufs.len();
    // SAFETY: `fd` is the caller's open socket; `msg` points to `addr` and
    // to the rooms, borrowed across the call, which the kernel may write
    // up to their lengths (and writes only initialised bytes).
    let received = unsafe { libc::recvmsg(fd, &raw mut msg, flags) };
    let len = usize::try_from(received).map_err(|_| io::Error::last_os_error())?;
    addr.set_len(msg.msg_namelen);
    Ok((len, addr.to_socket_addr()))
}

/// `readv(2)` into the rooms, in order, for a descriptor that is not a
/// socket (a pipe): how many bytes.
pub(crate) fn read_spare(fd: RawFd, bufs: &mut [Spare<'_>]) -> io::Result<usize> {
    let count = libc::c_int::try_from(bufs.len()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fd` is the caller's open descriptor; the `iovec`s
    // (`Spare`'s layout) describe rooms borrowed across the call, which
    // the kernel may write up to their lengths; `count` is at most their
    // number.
    let read = unsafe { libc::readv(fd, bufs.as_mut_ptr().cast(), count) };
    usize::try_from(read).map_err(|_| io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use std::io::{IoSlice, IoSliceMut};
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    use super::{recv_vectored, send_vectored};

    #[test]
    fn datagrams_in_pieces_there_and_back() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (sender_addr, receiver_addr) =
            (sender.local_addr().unwrap(), receiver.local_addr().unwrap());
        // To an address given with the datagram.
        let pieces = [IoSlice::new(b"he"), IoSlice::new(b"llo")];
        assert_eq!(
            send_vectored(sender.as_raw_fd(), &pieces, Some(receiver_addr)).unwrap(),
            5
        );
        let (mut head, mut tail) = ([0; 3], [0; 8]);
        let mut into = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut tail)];
        let (n, from) = recv_vectored(receiver.as_raw_fd(), &mut into).unwrap();
        assert_eq!((n, from), (5, Some(sender_addr)));
        assert_eq!((&head, &tail[..2]), (b"hel", &b"lo"[..]));
        // To the connected peer.
        sender.connect(receiver_addr).unwrap();
        assert_eq!(
            send_vectored(sender.as_raw_fd(), &[IoSlice::new(b"x")], None).unwrap(),
            1
        );
        let mut whole = [0; 4];
        let (n, from) =
            recv_vectored(receiver.as_raw_fd(), &mut [IoSliceMut::new(&mut whole)]).unwrap();
        assert_eq!((&whole[..n], from), (&b"x"[..], Some(sender_addr)));
    }
}
