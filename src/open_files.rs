//! The process's limit on open files: every connection the hub holds is a file descriptor, and a
//! soft limit of 1,024 (common on Linux) is reached by a modest crowd of clients. At start the
//! soft limit is raised to the hard one, which the administrator sets (`LimitNOFILE=` in
//! `contrib/obs-hub.service`, `ulimit -Hn`). Unix only; elsewhere nothing to do.

/// What [`raise_soft_limit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The soft limit was below the hard one and now equals it (`from`, `to`).
    Raised { from: u64, to: u64 },
    /// Already at the hard limit (systemd's `LimitNOFILE=N` sets both): nothing was called.
    AlreadyAtHard(u64),
    /// The limit could not be read or set; the hub runs with what it has.
    Failed,
    /// Not a Unix system.
    Unsupported,
}

/// The soft limit to ask for: the hard one, except that an unlimited hard limit is capped (Linux
/// refuses a soft limit above `fs.nr_open`, 1,048,576 by default); None when nothing is to do.
pub fn target(soft: u64, hard: u64, unlimited: u64) -> Option<u64> {
    const CAP: u64 = 1 << 20;
    let wanted = if hard == unlimited {
        CAP.max(soft)
    } else {
        hard
    };
    (wanted > soft).then_some(wanted)
}

/// Raises the soft open-files limit towards the hard one.
#[cfg(unix)]
// `rlim_t` is u64 on Linux and macOS but narrower on some Unix targets: the conversions are
// needed there.
#[allow(clippy::useless_conversion)]
pub fn raise_soft_limit() -> Outcome {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Outcome::Failed;
    }
    let (soft, hard) = (u64::from(limit.rlim_cur), u64::from(limit.rlim_max));
    // Checked before calling setrlimit: the systemd unit's seccomp filter (@resources) forbids
    // it, and with LimitNOFILE= there is nothing to raise.
    let Some(wanted) = target(soft, hard, u64::from(libc::RLIM_INFINITY)) else {
        return Outcome::AlreadyAtHard(soft);
    };
    limit.rlim_cur = libc::rlim_t::try_from(wanted).unwrap_or(limit.rlim_max);
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Outcome::Failed;
    }
    Outcome::Raised {
        from: soft,
        to: wanted,
    }
}

/// Raises the soft open-files limit towards the hard one.
#[cfg(not(unix))]
pub fn raise_soft_limit() -> Outcome {
    Outcome::Unsupported
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_goes_up_to_the_hard_one_never_down() {
        let unlimited = u64::MAX;
        assert_eq!(target(1024, 524_288, unlimited), Some(524_288));
        assert_eq!(target(65_536, 65_536, unlimited), None);
        assert_eq!(target(1024, unlimited, unlimited), Some(1 << 20));
        assert_eq!(target(2 << 20, unlimited, unlimited), None);
    }
}
