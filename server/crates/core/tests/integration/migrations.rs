//! The two migration folders move in step: the same files, numbered the same way, so a schema
//! change can never land on one database only.

fn names(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn sqlite_and_postgres_migrations_keep_the_same_numbering() {
    let sqlite = names("sqlite");
    let postgres = names("postgres");
    assert_eq!(sqlite, postgres, "the two migration folders differ");
    for (i, name) in sqlite.iter().enumerate() {
        let expected = format!("{:04}_", i + 1);
        assert!(
            name.starts_with(&expected) && name.ends_with(".sql"),
            "{name} should start with {expected} (no gaps, no duplicates) and end with .sql"
        );
    }
}
