"""The refresh state (SQLite with numbered migrations: cached replies, runs, decisions, checks,
batches), the fingerprint of a build's inputs, and what changed between two builds."""
