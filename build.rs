//! `embed_migrations!()` reads `migrations/` at compile time; without this, a new migration
//! directory would not trigger a rebuild and the binary would silently lack it.
//!
//! The layer check (`scripts/check-layers.py`) runs as a unit test where python3 exists; where
//! it does not, `python3_missing` marks that test ignored (reported as such, never as passed),
//! and `.ci/run` runs the script itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
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
