//! libmcast: the C ABI of mcast, as a shared and a static library.
//!
//! The functions are in the `mcast` crate (`src/capi/`, compiled with its `capi` feature); this crate only links
//! them into `libmcast.so` (SONAME and symbol versions from `build.rs`) and `libmcast.a`.
extern crate mcast_core;
