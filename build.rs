//! `embed_migrations!()` reads `migrations/` (and `migrations-postgres/`) at compile time;
//! without this, a new migration directory would not trigger a rebuild and the binary would
//! silently lack it.
//!
//! The tests on PostgreSQL start a real server from Debian's `postgresql` package; where its
//! binaries are missing, `postgres_missing` marks them ignored (as does a build without the
//! `postgres` feature), and `.ci/run` installs the package and runs them.
//!
//! The layer check (`scripts/check-layers.py`) runs as a unit test where python3 exists; where
//! it does not, `python3_missing` marks that test ignored (reported as such, never as passed),
//! and `.ci/run` runs the script itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations-postgres");
    println!("cargo::rustc-check-cfg=cfg(postgres_missing)");
    println!("cargo:rerun-if-changed=/usr/lib/postgresql");
    if postgres_bin_dir().is_none() {
        println!("cargo::rustc-cfg=postgres_missing");
    }
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo::rustc-check-cfg=cfg(python3_missing)");
    let python3 = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !python3 {
        println!("cargo::rustc-cfg=python3_missing");
    }
}

/// Debian's PostgreSQL server binaries (`/usr/lib/postgresql/<version>/bin`), the newest one.
/// The same search as the tests' harness (tests/common/postgres.rs).
fn postgres_bin_dir() -> Option<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}
