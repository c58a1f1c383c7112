//! Gives the shared library its SONAME, so programs linked with `-lmcast` record `libmcast.so.0`, and its
//! symbol version nodes (`ffi/libmcast.map`).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmcast.so.{major}");
        // The symbol versions (MCAST_0.1, MCAST_0.2) that src/capi assigns with `.symver`.
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
        println!("cargo:rerun-if-changed=libmcast.map");
        println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/libmcast.map");
    }
}
