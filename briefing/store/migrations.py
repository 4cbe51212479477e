"""The refresh state's schema: numbered migrations, applied in order when the database opens.

The schema version is SQLite's ``user_version``; migration n (1-based) brings it from n-1 to n,
each inside its own transaction, so a build killed half-way through an upgrade leaves the last
whole version. A database written by a newer briefing is refused, never downgraded.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import StateError

# Migration n (1-based) brings the schema from version n-1 to n. Append; never edit one that
# has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE completions (
        key TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        model TEXT NOT NULL,
        server TEXT NOT NULL,
        text TEXT NOT NULL,
        finish_reason TEXT,
        usage TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        manifest TEXT NOT NULL,
        events TEXT NOT NULL,
        brief TEXT NOT NULL
    );
    CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        first_run INTEGER NOT NULL REFERENCES runs(id),
        last_run INTEGER NOT NULL REFERENCES runs(id)
    );
    CREATE TABLE run_sources (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        source_id TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (run_id, source_id)
    );
    """,
    # 2: the brief as a record, so that a build with nothing new can render it again.
    """
    ALTER TABLE runs ADD COLUMN brief_record TEXT;
    ALTER TABLE runs ADD COLUMN fingerprint TEXT;
    """,
    # 3: review decisions (one per claim id, kept across builds) and `briefing check` reports.
    """
    CREATE TABLE decisions (
        claim_id TEXT PRIMARY KEY,
        decision TEXT NOT NULL,
        decided_at TEXT NOT NULL
    );
    CREATE TABLE checks (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        finished_at TEXT NOT NULL,
        report TEXT NOT NULL
    );
    """,
    # 4: Batch API batches submitted and not yet collected (a later build collects them).
    """
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        server TEXT NOT NULL,
        model TEXT NOT NULL,
        requests TEXT NOT NULL,
        collected_at TEXT,
        outcome TEXT,
        usage TEXT
    );
    """,
    # 5: sentence spans by text hash and segmenter version (store/splits.py; read/sentences.py),
    # and the sentences no model is shown by source and rules version (read/hidden.py).
    """
    CREATE TABLE sentence_splits (
        text_sha256 TEXT NOT NULL,
        segmenter TEXT NOT NULL,
        spans TEXT NOT NULL,
        PRIMARY KEY (text_sha256, segmenter)
    );
    CREATE TABLE hidden_sentences (
        source_key TEXT NOT NULL,
        rules TEXT NOT NULL,
        hidden TEXT NOT NULL,
        PRIMARY KEY (source_key, rules)
    );
    """,
    # 6: the merge's sentence vectors by text hash and embedding version (merge/embeddings.py).
    """
    CREATE TABLE vectors (
        text_sha256 TEXT NOT NULL,
        version TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (text_sha256, version)
    ) WITHOUT ROWID;
    """,
)


def connect(path: Path) -> sqlite3.Connection:
    """Open the state database at ``path``, applying the migrations it has not had yet; a
    database of a newer schema or a damaged one raises :class:`StateError`."""
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")  # readers never see half a transaction
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            db.close()
            raise StateError(
                f"{path} was written by a newer briefing (schema {version}; this one knows up "
                f"to {len(MIGRATIONS)}): upgrade briefing, or build into another --out"
            )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            db.execute("BEGIN")
            for statement in _statements(MIGRATIONS[number - 1]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        db.isolation_level = "DEFERRED"  # implicit transactions again, committed by `with db`
        return db
    except sqlite3.DatabaseError as exc:
        raise StateError(
            f"{path} is damaged ({exc}); move it away to start again from nothing"
        ) from exc


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
