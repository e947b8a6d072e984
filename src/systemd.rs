//! systemd readiness (`Type=notify`): tell the service manager once the hub listens, so that
//! units ordered after obs-hub start only when its API answers. Linux only (systemd, and the
//! abstract socket namespace it uses); elsewhere readiness is not signalled and nothing is lost.

/// Sends `READY=1` to `$NOTIFY_SOCKET` when systemd (or anything speaking its protocol) asked for
/// it; does nothing otherwise. A failure is logged, never fatal: the hub works without systemd.
pub fn notify_ready() {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    #[cfg(target_os = "linux")]
    if let Err(error) = send(&path, b"READY=1\n") {
        log::warn!("could not notify systemd of readiness: {error}");
    }
    #[cfg(not(target_os = "linux"))]
    log::debug!("NOTIFY_SOCKET ({path:?}) ignored: systemd readiness is Linux only");
}

#[cfg(target_os = "linux")]
fn send(path: &std::ffi::OsStr, message: &[u8]) -> std::io::Result<()> {
    use std::os::unix::net::UnixDatagram;
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    // A leading '@' names a socket in the abstract namespace (how systemd usually passes it).
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        socket.send_to_addr(message, &address)?;
    } else {
        socket.send_to(message, path)?;
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn sends_ready_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), b"READY=1\n").unwrap();
        let mut buffer = [0u8; 32];
        let length = receiver.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"READY=1\n");
    }
}
