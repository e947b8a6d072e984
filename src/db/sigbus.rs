//! A WAL database's `-shm` file is mapped into the hub's memory. If another program truncates
//! it while the hub runs, the next read or write of the database touches a page the file no
//! longer has, and the kernel sends SIGBUS: the process used to die with a bare "Bus error".
//! Nothing can resume after that fault, but the hub can say which file to look at on its way
//! out, in one line like its other fatal errors, and exit with a failure code (so that systemd's
//! `Restart=on-failure` starts it again, on a -shm file SQLite then rebuilds).

use std::path::Path;

/// Exit code after the fault: a failure, as for start-up errors.
pub const EXIT_CODE: i32 = 1;

/// Names `database`'s shared-memory file in the line printed if SIGBUS arrives. Installs the
/// handler the first time; later calls (several hubs in one test process) name the latest.
pub fn name_database_on_sigbus(database: &Path) {
    #[cfg(unix)]
    unix::install(format!(
        "obs-hub: SIGBUS: the database's shared-memory file {}-shm was truncated or replaced while \
         the hub used it (or its disk is full); exiting, the changes not yet written are lost. \
         Leave the -shm and -wal files alone while the hub runs.\n",
        database.display()
    ));
    #[cfg(not(unix))]
    let _ = database;
}

#[cfg(unix)]
mod unix {
    use std::sync::{
        atomic::{AtomicPtr, Ordering},
        Once,
    };

    /// The line to print, leaked so that the handler can read it at any moment: one short string
    /// per database opened.
    static MESSAGE: AtomicPtr<String> = AtomicPtr::new(std::ptr::null_mut());
    static INSTALL: Once = Once::new();

    pub(super) fn install(message: String) {
        MESSAGE.store(Box::into_raw(Box::new(message)), Ordering::Release);
        INSTALL.call_once(|| {
            // SAFETY: a zeroed sigaction is valid (no flags, empty mask once sigemptyset has run);
            // the handler below only calls async-signal-safe functions (write, _exit).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) != 0 {
                    log::warn!(
                        "cannot watch SIGBUS: a truncated -shm file will end the hub unexplained"
                    );
                }
            }
        });
    }

    extern "C" fn on_sigbus(_: libc::c_int) {
        let message = MESSAGE.load(Ordering::Acquire);
        // SAFETY: the pointer is null or a leaked String never freed; write and _exit are
        // async-signal-safe, and returning would only fault again.
        unsafe {
            if let Some(message) = message.as_ref() {
                libc::write(2, message.as_ptr().cast(), message.len());
            }
            libc::_exit(super::EXIT_CODE);
        }
    }
}
