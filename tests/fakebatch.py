"""The fake server's Batch API: ``files`` and ``batches`` endpoints, enough for the official
``openai`` client's ``files.create``, ``files.content``, ``batches.create``, ``batches.retrieve``
and ``batches.cancel``.

A batch stays ``in_progress`` until the test says otherwise (``finish``), unless ``auto`` is
set, so a test can interrupt and resume a batch build at any point. Each request line is
answered by the fake server's own queue and responder, exactly as the same request sent live
would be, so a batch build and a live build of the same replies can be compared.

    fake.batches.finish()                      # every open batch completes
    fake.batches.finish(answer=3, status="expired")   # 3 lines answered, the rest expire
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakeserver import FakeOpenAI, Reply

_ids = itertools.count(1)


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any]
    total: int
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "in_progress"
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None

    def as_object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "request_counts": {
                "total": self.total,
                "completed": self.completed,
                "failed": self.failed,
            },
            "metadata": self.metadata,
        }


class FakeBatches:
    """Files and batches held in memory; ``polls`` counts ``batches.retrieve`` calls."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self._fake = fake
        self._lock = threading.Lock()
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (purpose, content)
        self.batches: dict[str, _Batch] = {}
        self.auto = False  # complete every batch as soon as it is created
        self.polls = 0

    # --- what a test does -----------------------------------------------------------------------

    def finish(self, answer: int | None = None, status: str = "completed") -> None:
        """End every open batch: its first ``answer`` lines (all when None) answered by the fake
        server, the others expired (``status="expired"``) or failed."""
        with self._lock:
            open_batches = [b for b in self.batches.values() if b.status == "in_progress"]
        for batch in open_batches:
            self._run(batch, answer, status)

    def request_lines(self, batch_id: str) -> list[dict[str, Any]]:
        """The request lines a batch was created with."""
        batch = self.batches[batch_id]
        content = self.files[batch.input_file_id][1]
        return [json.loads(line) for line in content.decode().splitlines() if line.strip()]

    # --- HTTP -------------------------------------------------------------------------------------

    def get(self, path: str) -> tuple[int, Any]:
        """Answer a GET under /v1/files or /v1/batches: (status, JSON object or raw bytes)."""
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        if parts[:1] == ["files"] and len(parts) == 3 and parts[2] == "content":
            found = self.files.get(parts[1])
            return (200, found[1]) if found else _missing("file", parts[1])
        if parts[:1] == ["files"] and len(parts) == 2:
            found = self.files.get(parts[1])
            return (200, self._file_object(parts[1])) if found else _missing("file", parts[1])
        if parts[:1] == ["batches"] and len(parts) == 2:
            with self._lock:
                self.polls += 1
                batch = self.batches.get(parts[1])
            return (200, batch.as_object()) if batch else _missing("batch", parts[1])
        return _missing("path", path)

    def post(self, path: str, content_type: str, raw: bytes) -> tuple[int, Any]:
        """Answer a POST under /v1/files or /v1/batches."""
        parts = path.strip("/").split("/")[1:]
        if parts == ["files"]:
            fields = _multipart(content_type, raw)
            file_id = f"file-fake-{next(_ids)}"
            purpose = fields.get("purpose", b"").decode()
            with self._lock:
                self.files[file_id] = (purpose, fields.get("file", b""))
            return 200, self._file_object(file_id)
        if parts == ["batches"]:
            body = json.loads(raw)
            input_id = body.get("input_file_id")
            if input_id not in self.files:
                return _missing("file", str(input_id))
            lines = [x for x in self.files[input_id][1].decode().splitlines() if x.strip()]
            batch = _Batch(
                id=f"batch_fake_{next(_ids)}",
                input_file_id=input_id,
                endpoint=body.get("endpoint", ""),
                completion_window=body.get("completion_window", "24h"),
                metadata=body.get("metadata") or {},
                total=len(lines),
            )
            with self._lock:
                self.batches[batch.id] = batch
            if self.auto:
                self._run(batch, None, "completed")
            return 200, batch.as_object()
        if len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel":
            found = self.batches.get(parts[1])
            if found is None:
                return _missing("batch", parts[1])
            batch = found
            if batch.status == "in_progress":
                self._run(batch, 0, "cancelled")
            return 200, batch.as_object()
        return _missing("path", path)

    # --- inside -----------------------------------------------------------------------------------

    def _run(self, batch: _Batch, answer: int | None, status: str) -> None:
        from fakeserver import completion_object  # the same completion a live request gets

        output: list[str] = []
        errors: list[str] = []
        for number, line in enumerate(self.request_lines(batch.id)):
            custom_id = line["custom_id"]
            if answer is not None and number >= answer:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                errors.append(_line(custom_id, None, {"code": code, "message": f"not run: {code}"}))
                continue
            reply: Reply = self._fake._next_reply(line["body"])
            if reply.kind == "completion":
                body = completion_object(line["body"], reply)
                output.append(_line(custom_id, {"status_code": 200, "body": body}, None))
                batch.completed += 1
            else:
                response = {"status_code": reply.status_code or 500, "body": reply.body or {}}
                errors.append(_line(custom_id, response, None))
                batch.failed += 1
        with self._lock:
            if output:
                batch.output_file_id = self._store("batch_output", output)
            if errors:
                batch.error_file_id = self._store("batch_output", errors)
            batch.status = status

    def _store(self, purpose: str, lines: list[str]) -> str:
        file_id = f"file-fake-{next(_ids)}"
        self.files[file_id] = (purpose, "".join(x + "\n" for x in lines).encode())
        return file_id

    def _file_object(self, file_id: str) -> dict[str, Any]:
        purpose, content = self.files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": f"{file_id}.jsonl",
            "purpose": purpose,
            "status": "processed",
        }


def _line(custom_id: str, response: dict[str, Any] | None, error: dict[str, Any] | None) -> str:
    if response is not None:
        response = {"request_id": f"req_fake_{next(_ids)}", **response}
    line = {"id": f"batch_req_{next(_ids)}", "custom_id": custom_id}
    return json.dumps({**line, "response": response, "error": error})


def _missing(kind: str, name: str) -> tuple[int, Any]:
    message = f"fake server: no such {kind} {name}"
    return 404, {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, by name."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True)
            fields[str(name)] = payload if isinstance(payload, bytes) else b""
    return fields
