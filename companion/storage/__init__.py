"""What is kept on disk: the pain log (SQLite), its crash-safe writer, export and import,
trends and reports, the single-run lock, and the routine files."""
