// `sqlx::migrate!` reads the migration folders at compile time, but on stable Rust nothing tells
// cargo it did: without this, a new or edited migration is left out of an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=../../../migrations");
}
