//! `embed_migrations!()` reads `migrations/` at compile time; without this, a new migration
//! directory would not trigger a rebuild and the binary would silently lack it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
