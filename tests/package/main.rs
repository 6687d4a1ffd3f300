//! The packages tier: `scripts/package` builds the .deb and the .rpm an operator installs
//! on a host with no Rust toolchain. The .rpm is read back with rpm; the .deb is installed
//! with dpkg into a minimal Debian (`scripts/test-env`'s, seen through an overlay in a
//! private mount namespace with no network, so the cached root is never changed), used
//! as an operator would use it, then purged to nothing. Needs root, like the systemd tier.

mod packages;
