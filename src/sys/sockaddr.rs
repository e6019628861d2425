//! Socket addresses as the C library takes and gives them.

use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A socket address in a `sockaddr_storage`, with its length.
pub(crate) struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    /// Room for an address the kernel fills in (`recvmsg`).
    pub(crate) fn empty() -> SockAddr {
        SockAddr {
            // SAFETY: `sockaddr_storage` is plain data, valid all zero.
            storage: unsafe { std::mem::zeroed() },
            len: super::socklen_of::<libc::sockaddr_storage>(),
        }
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&raw mut self.storage).cast()
    }

    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// Records the length the kernel wrote.
    pub(crate) fn set_len(&mut self, len: libc::socklen_t) {
        self.len = len;
    }

    /// The address, if it is an IPv4 or IPv6 one.
    pub(crate) fn to_socket_addr(&self) -> Option<SocketAddr> {
        match libc::c_int::from(self.storage.ss_family) {
            libc::AF_INET if self.len as usize >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a
                // `sockaddr_in`, which fits in it (checked length), and
                // `sockaddr_storage` is aligned for every address type.
                #[allow(clippy::cast_ptr_alignment)] // `sockaddr_storage` is aligned for it.
                let sin = unsafe { &*(self.as_ptr().cast::<libc::sockaddr_in>()) };
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if self.len as usize >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for a `sockaddr_in6`.
                #[allow(clippy::cast_ptr_alignment)] // `sockaddr_storage` is aligned for it.
                let sin6 = unsafe { &*(self.as_ptr().cast::<libc::sockaddr_in6>()) };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

// The address families the kernel keeps in a `sa_family_t`: `AF_INET` and
// `AF_INET6` are 2 and 10, given by libc as the wider `c_int`.
#[allow(clippy::cast_possible_truncation)] // Small constants: they fit.
const FAMILY_INET: libc::sa_family_t = libc::AF_INET as libc::sa_family_t;
#[allow(clippy::cast_possible_truncation)] // Small constants: they fit.
const FAMILY_INET6: libc::sa_family_t = libc::AF_INET6 as libc::sa_family_t;

impl From<SocketAddr> for SockAddr {
    fn from(addr: SocketAddr) -> SockAddr {
        let mut out = SockAddr::empty();
        match addr {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: FAMILY_INET,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                #[allow(clippy::cast_ptr_alignment)] // `sockaddr_storage` is aligned for it.
                let into = out.as_mut_ptr().cast::<libc::sockaddr_in>();
                // SAFETY: a `sockaddr_in` fits in the storage, which is
                // aligned for it.
                unsafe { into.write(sin) };
                out.len = super::socklen_of::<libc::sockaddr_in>();
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: FAMILY_INET6,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                #[allow(clippy::cast_ptr_alignment)] // `sockaddr_storage` is aligned for it.
                let into = out.as_mut_ptr().cast::<libc::sockaddr_in6>();
                // SAFETY: as above, for a `sockaddr_in6`.
                unsafe { into.write(sin6) };
                out.len = super::socklen_of::<libc::sockaddr_in6>();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_go_there_and_back() {
        for addr in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%2]:9"] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(SockAddr::from(addr).to_socket_addr(), Some(addr));
        }
        assert_eq!(SockAddr::empty().to_socket_addr(), None);
    }
}
