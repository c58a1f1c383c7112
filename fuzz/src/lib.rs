//! What the fuzz targets share: receive metadata made from fuzzer-chosen values.

use std::net::{IpAddr, SocketAddr};

use mcast::RecvMeta;

/// The metadata of a datagram of `len` bytes from `source`, to `group`, arrived on `ifindex` with `ttl`.
pub fn meta(len: usize, source: SocketAddr, ifindex: Option<u32>, ttl: Option<u8>, group: Option<IpAddr>) -> RecvMeta {
    let mut meta = RecvMeta::new(len, source);
    meta.group = group;
    meta.ifindex = ifindex;
    meta.ttl = ttl;
    meta
}
