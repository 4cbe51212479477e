"""The refresh state: one SQLite database beside the outputs, ``OUT/.briefing/state.db``.

It holds what a rebuild must not pay for again and what a reader may want to compare:

* **completions**: every reply the model server gave, keyed by a hash of the exact request
  (model, server, messages, response schema, token limit, sampling). Everything that changes a
  result (a source's text, a prompt, the schema, the model, the window size) changes the request,
  so it changes the key: an unchanged source costs no request, a changed prompt re-asks exactly
  the requests it renders into. Each reply is committed as soon as it arrives, so a build killed
  in its fourth minute keeps its first three minutes.
* **runs**: each finished build's manifest, canonical events and Markdown brief, so that any two
  versions can be compared (``briefing diff``) and the next build can say what changed.
* **sources**: each source hash with its path and the runs that first and last read it.
* **sentence splits**: the sentence spans of each source text, so a rebuild does not segment an
  unchanged text again, and the sentences no model is shown (``store/splits.py``).
* **vectors**: the merge's embedding of each summary and candidate sentence, by the text's hash
  and the embedding version, so a rebuild embeds only texts it has not seen.

The schema is versioned with SQLite's ``user_version`` and numbered migrations, applied in order
inside a transaction (``migrations.py``). One build at a time may hold an output folder (a lock
file); a second one stops with a message naming the folder instead of interleaving its writes.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import StateError
from ..models import Decision, Usage
from .migrations import connect

STATE_DIR = ".briefing"
DB_NAME = "state.db"
LOCK_NAME = "lock"

# Keys per SELECT … IN (…): well under SQLite's limit on bound parameters.
_KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class BatchRecord:
    """A submitted batch: which requests it holds (cache key -> purpose) and, once collected,
    how it ended."""

    id: str
    created_at: str
    server: str
    model: str
    requests: dict[str, str]
    collected_at: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class CachedReply:
    """A reply as the server gave it, and what getting it cost then."""

    text: str
    finish_reason: str | None
    usage: Usage


@dataclass(frozen=True)
class RunRecord:
    """One finished build as stored."""

    id: int
    started_at: str
    finished_at: str
    manifest: dict[str, Any]
    events: dict[str, Any]
    brief: str
    sources: dict[str, str]  # source id -> path
    brief_record: dict[str, Any] | None = None  # the Brief the Markdown was rendered from
    fingerprint: str | None = None  # of every input of the build (pipeline.fingerprint)


@dataclass(frozen=True)
class _Versioned:
    """A table of documents by (key, version) of migration 5: only one version is kept."""

    name: str
    key: str
    version: str
    document: str


# Constants of this module, never input: safe to put into the SQL text.
_SPLITS = _Versioned("sentence_splits", "text_sha256", "segmenter", "spans")
_HIDDEN = _Versioned("hidden_sentences", "source_key", "rules", "hidden")


class State:
    """An open state database. Safe to share between the extraction threads of one build."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.Lock()

    # --- completions -----------------------------------------------------------------------------

    def reply(self, key: str) -> CachedReply | None:
        """The stored reply for request ``key``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT text, finish_reason, usage FROM completions WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return CachedReply(row[0], row[1], Usage.model_validate_json(row[2]))

    def store_reply(
        self, key: str, purpose: str, model: str, server: str, reply: CachedReply
    ) -> None:
        """Keep a reply; committed at once, so a killed build loses no finished request."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key, purpose, model, server, reply.text, reply.finish_reason,
                    reply.usage.model_dump_json(), _now(),
                ),
            )  # fmt: skip

    def store_replies(self, rows: Sequence[tuple[str, str, str, str, CachedReply]]) -> None:
        """Keep many replies (key, purpose, model, server, reply) in one transaction: a batch's
        ten thousand results are one commit, not ten thousand."""
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (key, purpose, model, server, r.text, r.finish_reason,
                     r.usage.model_dump_json(), _now())
                    for key, purpose, model, server, r in rows
                ],
            )  # fmt: skip

    # --- sentence splits (store/splits.py) -------------------------------------------------------

    def sentence_split(self, text_sha256: str, segmenter: str) -> str | None:
        """The spans document stored for a text split by ``segmenter``, undecoded, or None."""
        return self._versioned_document(_SPLITS, text_sha256, segmenter)

    def store_sentence_splits(self, segmenter: str, rows: Sequence[tuple[str, str]]) -> None:
        """Keep many splits (text hash, spans document) by ``segmenter`` in one transaction;
        splits by any other segmenter version go, since nothing will ask for them again."""
        self._store_versioned_documents(_SPLITS, segmenter, rows)

    def hidden_sentences(self, source_key: str, rules: str) -> str | None:
        """The hidden-sentences document stored for a source under ``rules``, or None."""
        return self._versioned_document(_HIDDEN, source_key, rules)

    def store_hidden_sentences(self, rules: str, rows: Sequence[tuple[str, str]]) -> None:
        """Keep many (source key, document) under ``rules`` in one transaction; rows of other
        rules go, since nothing will ask for them again."""
        self._store_versioned_documents(_HIDDEN, rules, rows)

    def _versioned_document(self, table: _Versioned, key: str, version: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {table.document} FROM {table.name} "
                f"WHERE {table.key} = ? AND {table.version} = ?",
                (key, version),
            ).fetchone()
        return row[0] if row else None

    def _store_versioned_documents(
        self, table: _Versioned, version: str, rows: Sequence[tuple[str, str]]
    ) -> None:
        with self._lock, self._db:
            self._db.execute(f"DELETE FROM {table.name} WHERE {table.version} <> ?", (version,))
            self._db.executemany(
                f"INSERT OR REPLACE INTO {table.name} VALUES (?, ?, ?)",
                [(key, version, document) for key, document in rows],
            )

    # --- vectors (merge/embeddings.py) ----------------------------------------------------------

    def vectors(self, version: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The vectors kept under ``version`` for any of ``keys`` (text hashes), by key."""
        found: dict[str, bytes] = {}
        with self._lock:
            for at in range(0, len(keys), _KEYS_PER_QUERY):
                chunk = list(keys[at : at + _KEYS_PER_QUERY])
                marks = ",".join("?" * len(chunk))
                found.update(
                    self._db.execute(
                        "SELECT text_sha256, vector FROM vectors "
                        f"WHERE version = ? AND text_sha256 IN ({marks})",
                        (version, *chunk),
                    ).fetchall()
                )
        return found

    def store_vectors(self, version: str, rows: Sequence[tuple[str, bytes]]) -> None:
        """Keep ``(text hash, vector)`` rows under ``version`` in one transaction; vectors of
        any other version go, since nothing will ask for them again."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM vectors WHERE version <> ?", (version,))
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(key, version, vector) for key, vector in rows],
            )

    # --- batches ---------------------------------------------------------------------------------

    def record_batch(
        self, batch_id: str, server: str, model: str, requests: dict[str, str]
    ) -> None:
        """Keep a batch just submitted, so that a later build collects it."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO batches (id, created_at, server, model, requests) "
                "VALUES (?, ?, ?, ?, ?)",
                (batch_id, _now(), server, model, json.dumps(requests)),
            )

    def open_batches(self) -> list[BatchRecord]:
        """Batches submitted and not yet collected, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created_at, server, model, requests FROM batches "
                "WHERE collected_at IS NULL ORDER BY created_at, id"
            ).fetchall()
        return [BatchRecord(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def batch_collected(self, batch_id: str, outcome: str, usage: Usage) -> None:
        """Mark a batch collected (its results stored), with a line on how it ended and what
        its replies cost."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE batches SET collected_at = ?, outcome = ?, usage = ? WHERE id = ?",
                (_now(), outcome, usage.model_dump_json(), batch_id),
            )

    def batch_usage_since(self, moment: str) -> Usage:
        """What the batches collected after ``moment`` (an ISO time; "" for all) cost."""
        with self._lock:
            rows = self._db.execute(
                "SELECT usage FROM batches WHERE collected_at > ? AND usage IS NOT NULL",
                (moment,),
            ).fetchall()
        return sum((Usage.model_validate_json(r[0]) for r in rows), Usage())

    # --- runs ------------------------------------------------------------------------------------

    def record_run(
        self,
        started_at: str,
        manifest: dict[str, Any],
        events: dict[str, Any],
        brief: str,
        sources: Sequence[tuple[str, str]],
        brief_record: dict[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> int:
        """Store a finished build (``sources``: its (id, path) pairs); returns the run number."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO runs (started_at, finished_at, manifest, events, brief, "
                "brief_record, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    started_at, _now(), json.dumps(manifest), json.dumps(events), brief,
                    json.dumps(brief_record) if brief_record is not None else None, fingerprint,
                ),
            )  # fmt: skip
            run = int(cursor.lastrowid or 0)
            self._db.executemany(
                "INSERT OR REPLACE INTO run_sources VALUES (?, ?, ?)",
                [(run, sid, path) for sid, path in sources],
            )
            self._db.executemany(
                "INSERT INTO sources VALUES (?, ?, ?, ?) ON CONFLICT(id) "
                "DO UPDATE SET path = excluded.path, last_run = excluded.last_run",
                [(sid, path, run, run) for sid, path in sources],
            )
        return run

    def runs(self) -> list[RunRecord]:
        """Every stored run, oldest first."""
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM runs ORDER BY id")]
        return [run for i in ids if (run := self.run(i)) is not None]

    def run(self, run_id: int) -> RunRecord | None:
        """Run number ``run_id``, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, started_at, finished_at, manifest, events, brief, brief_record, "
                "fingerprint FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                return None
            sources = dict(
                self._db.execute(
                    "SELECT source_id, path FROM run_sources WHERE run_id = ?", (run_id,)
                ).fetchall()
            )
        return RunRecord(
            row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]), row[5], sources,
            json.loads(row[6]) if row[6] else None, row[7],
        )  # fmt: skip

    def last_run(self) -> RunRecord | None:
        """The latest stored run, or None before the first."""
        with self._lock:
            row = self._db.execute("SELECT max(id) FROM runs").fetchone()
        return self.run(row[0]) if row and row[0] is not None else None

    def update_brief_record(self, run_id: int, brief_record: dict[str, Any], brief: str) -> None:
        """Replace run ``run_id``'s Brief record and Markdown (a check adds its summary line)."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE runs SET brief_record = ?, brief = ? WHERE id = ?",
                (json.dumps(brief_record), brief, run_id),
            )

    # --- review decisions ------------------------------------------------------------------------

    def decisions(self) -> list[Decision]:
        """Every review decision kept, oldest first; none is ever dropped by a build."""
        with self._lock:
            rows = self._db.execute(
                "SELECT decision FROM decisions ORDER BY decided_at, claim_id"
            ).fetchall()
        return [Decision.model_validate_json(r[0]) for r in rows]

    def save_decision(self, decision: Decision) -> None:
        """Keep ``decision`` (replacing an earlier one on the same claim); committed at once."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?)",
                (decision.claim_id, decision.model_dump_json(), decision.decided_at),
            )

    def forget_decision(self, claim_id: str) -> bool:
        """Undo the decision on ``claim_id``; whether there was one."""
        with self._lock, self._db:
            cursor = self._db.execute("DELETE FROM decisions WHERE claim_id = ?", (claim_id,))
        return cursor.rowcount > 0

    # --- checks ----------------------------------------------------------------------------------

    def record_check(self, run_id: int | None, report: dict[str, Any]) -> int:
        """Store a `briefing check` report of run ``run_id``; returns its number."""
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO checks (run_id, finished_at, report) VALUES (?, ?, ?)",
                (run_id, _now(), json.dumps(report)),
            )
        return int(cursor.lastrowid or 0)

    def last_check(self) -> dict[str, Any] | None:
        """The latest check report, whichever run it checked, or None."""
        with self._lock:
            row = self._db.execute("SELECT report FROM checks ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None


def state_path(out_dir: Path) -> Path:
    """Where the state database of ``out_dir`` lives."""
    return out_dir / STATE_DIR / DB_NAME


@contextmanager
def open_state(out_dir: Path, *, exclusive: bool = True, existing: bool = False) -> Iterator[State]:
    """The state of ``out_dir``, created or migrated as needed.

    ``exclusive``: hold the folder's lock for the block (a build); readers (``briefing runs``,
    ``briefing diff``) do not need it. ``existing``: a folder no build wrote into is an error,
    not a new state. Raises :class:`StateError` when another build holds the lock, or the
    database is damaged or from a newer briefing.
    """
    if existing and not state_path(out_dir).is_file():
        raise StateError(f"no builds in {out_dir} yet (no {state_path(out_dir)})")
    folder = out_dir / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / LOCK_NAME, out_dir) if exclusive else _no_lock():
        path = folder / DB_NAME
        connection = connect(path)
        try:
            yield State(path, connection)
        finally:
            connection.close()


@contextmanager
def _locked(lock_path: Path, out_dir: Path) -> Iterator[None]:
    handle: IO[str] = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise StateError(
                f"another build is writing {out_dir} ({holder}); wait for it to finish, "
                "or build into another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock, also when the process is killed


@contextmanager
def _no_lock() -> Iterator[None]:
    yield


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
