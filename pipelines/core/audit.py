"""The audit log (governance.md rule 6): an append-only JSON-lines file in which every entry carries the
hash of the one before, so that changing, removing or inserting an entry breaks the chain where it happened.

    {"seq": 7, "at": "...", "event": "file_loaded", "details": {...}, "prev": "<sha256 of entry 6>", "hash": "..."}

Entries name files, counts and hashes, never a child's identity (a re-identification records the token
and the reason, not the 宛名番号).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

GENESIS = "0" * 64


def _digest(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, event: str, **details) -> dict:
        """Append one entry under an exclusive lock (the webserver, the CLI and the job may all write)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            last = None
            for line in f:
                if line.strip():
                    last = line
            previous = json.loads(last) if last else None
            entry = {"seq": previous["seq"] + 1 if previous else 1,
                     "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "event": event, "details": details,
                     "prev": previous["hash"] if previous else GENESIS}
            entry["hash"] = _digest(entry)
            # one write() of the whole line: a process killed here leaves the line whole or absent
            os.write(f.fileno(), (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
            os.fsync(f.fileno())  # on disk before the action it records goes on
            # the head (last seq and hash) beside the log, so that removing the last entries is seen too;
            # replaced by a rename, so a kill leaves the old head or the new one, never half of one
            head = self.head_path.with_suffix(".head.tmp")
            head.write_text(json.dumps({"seq": entry["seq"], "hash": entry["hash"]}) + "\n")
            os.replace(head, self.head_path)
        return entry

    @property
    def head_path(self) -> Path:
        return self.path.with_suffix(".head")

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Verification:
    ok: bool
    entries: int
    problem: str = ""
    line: int | None = None  # the first line of the file that is not as it was written


def verify(path: Path) -> Verification:
    """Walk the chain; name the first entry that was changed, removed or inserted."""
    lines = Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []
    prev_hash, expected_seq = GENESIS, 1
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return Verification(False, number - 1, f"line {number} is not a log entry", number)
        if entry.get("hash") != _digest(entry):
            return Verification(False, number - 1, f"entry {entry.get('seq')} (line {number}) was changed", number)
        if entry.get("prev") != prev_hash or entry.get("seq") != expected_seq:
            if entry.get("seq", 0) > expected_seq:
                what = f"entry {expected_seq} was removed (line {number} holds entry {entry.get('seq')})"
            else:
                what = f"entry at line {number} (seq {entry.get('seq')}) was inserted or moved"
            return Verification(False, number - 1, what, number)
        prev_hash, expected_seq = entry["hash"], expected_seq + 1
    head_path = Path(path).with_suffix(".head")
    if head_path.exists():
        head = json.loads(head_path.read_text())
        last = json.loads(lines[-1]) if lines else None
        # the head one entry behind: a process stopped between writing an entry and its head (a crash)
        interrupted = last is not None and head["seq"] == last["seq"] - 1 and head["hash"] == last["prev"]
        if (head["seq"] != expected_seq - 1 or head["hash"] != prev_hash) and not interrupted:
            return Verification(False, len(lines), f"entries after {expected_seq - 1} were removed "
                                                   f"(the log's head is entry {head['seq']})", len(lines) + 1)
    elif len(lines) > 1:  # (one entry and no head: stopped between the very first entry and its head)
        return Verification(False, len(lines), "the log's head record is missing", None)
    return Verification(True, len(lines))
