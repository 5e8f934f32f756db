"""The SQLite revision log: schema, connections and the queries both the reader pool and the
writer thread run. Everything here is synchronous and runs in worker threads; only the one-row
reads current_revision and meta_value also run on the loop (sqlite.py's version connection).

The shape is kine's (k3s-io/kine, the generic SQL driver): an append-only table where every write
is a new row and the row id IS the global revision.

    id              revision of this write (INTEGER PRIMARY KEY AUTOINCREMENT: never reused,
                    so the revision only grows, even after compaction deletes the newest rows)
    name            the key
    created         1 when this row created the key
    deleted         1 when this row deleted the key (a tombstone)
    create_revision revision at which the key was created (this generation)
    prev_revision   id of the key's previous row (0 for the very first create)
    lease           unused, kept for kine's shape
    value           the value (for a tombstone: the value that was deleted)
    old_value       the previous value, so watch events carry it without a join

The latest state of a key at revision R is its row with the highest id <= R, unless that row is a
tombstone. sqlite_sequence holds the highest id ever handed out: that is the current revision.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from kybernetes.store.interface import Event, EventType, KeyValue
from kybernetes.store.keyrange import prefix_end, range_start

SCHEMA = """
CREATE TABLE IF NOT EXISTS kine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    lease INTEGER NOT NULL DEFAULT 0,
    value BLOB,
    old_value BLOB
);
CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name, id);
CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision);
CREATE TABLE IF NOT EXISTS kine_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

ROW_COLUMNS = "id, name, created, deleted, create_revision, prev_revision, value, old_value"
INSERT_ROW = (
    "INSERT INTO kine (id, name, created, deleted, create_revision, prev_revision, value, old_value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
COMPACT_KEY = "compact_revision"  # reads and watches below this are refused
COMPACT_DONE_KEY = "compact_done"  # superseded rows up to here are physically gone


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    name: str
    created: int
    deleted: int
    create_revision: int
    prev_revision: int
    value: bytes
    old_value: bytes | None

    def as_key_value(self) -> KeyValue:
        return KeyValue(self.name, self.value, self.create_revision, self.id)

    def as_event(self) -> Event:
        if self.created:
            return Event(EventType.CREATE, self.as_key_value())
        prev = KeyValue(self.name, self.old_value or b"", self.create_revision, self.prev_revision)
        if self.deleted:
            return Event(EventType.DELETE, KeyValue(self.name, prev.value, self.create_revision, self.id), prev)
        return Event(EventType.UPDATE, self.as_key_value(), prev)


def _row(raw: tuple) -> Row:
    return Row(raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6] or b"", raw[7])


def connect(path: str, synchronous: str, busy_timeout_ms: int = 30000) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves) on a WAL database."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise sqlite3.OperationalError(f"cannot switch {path} to WAL journal mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def init_schema(conn: sqlite3.Connection) -> None:
    # One script, one transaction: processes opening the same file at once serialise on the lock.
    conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")


def current_revision(conn: sqlite3.Connection) -> int:
    raw = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kine'").fetchone()
    return int(raw[0]) if raw else 0


def meta_value(conn: sqlite3.Connection, key: str) -> int:
    raw = conn.execute("SELECT value FROM kine_meta WHERE key = ?", (key,)).fetchone()
    return int(raw[0]) if raw else 0


def set_meta_value(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute(
        "INSERT INTO kine_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def latest_row(conn: sqlite3.Connection, name: str, max_id: int = 0) -> Row | None:
    """The key's newest row (at or below ``max_id`` when given), tombstones included."""
    if max_id:
        raw = conn.execute(
            f"SELECT {ROW_COLUMNS} FROM kine WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1",
            (name, max_id),
        ).fetchone()
    else:
        raw = conn.execute(
            f"SELECT {ROW_COLUMNS} FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1", (name,)
        ).fetchone()
    return _row(raw) if raw else None


def latest_rows(conn: sqlite3.Connection, names: list[str]) -> dict[str, Row]:
    """The newest row (tombstones included) of each of ``names`` that has one, in ONE query.

    Each name's MAX(id) is its own correlated lookup, which SQLite answers with one seek to the end
    of that name's (name, id) index range; a GROUP BY over ``name IN (...)`` would instead walk
    every historic row of every name."""
    if not names:
        return {}
    values = ",".join(["(?)"] * len(names))
    sql = (
        f"WITH wanted(n) AS (VALUES {values})"
        f" SELECT {ROW_COLUMNS} FROM wanted JOIN kine ON kine.id = (SELECT MAX(id) FROM kine WHERE name = wanted.n)"
    )
    return {row.name: row for row in map(_row, conn.execute(sql, names))}


def _name_range(prefix: str, start_after: str) -> tuple[str, list]:
    start, inclusive = range_start(prefix, start_after)
    clause = "name >= ?" if inclusive else "name > ?"
    params: list = [start]
    end = prefix_end(prefix)
    if end is not None:
        clause += " AND name < ?"
        params.append(end)
    return clause, params


def list_latest(
    conn: sqlite3.Connection, prefix: str, revision: int, limit: int, start_after: str
) -> tuple[list[Row], bool]:
    """Live keys under ``prefix`` as of ``revision``, sorted; (rows, more).

    Walks the (name, id) index in name order and keeps, per name, only the row that is the newest
    at ``revision`` (a correlated MAX on the same index), so a page stops after ``limit`` keys
    instead of grouping the whole prefix first."""
    clause, params = _name_range(prefix, start_after)
    sql = (
        f"SELECT {ROW_COLUMNS} FROM kine AS k WHERE {clause.replace('name', 'k.name')} AND k.id <= ?"
        " AND k.id = (SELECT MAX(l.id) FROM kine AS l WHERE l.name = k.name AND l.id <= ?)"
        " AND k.deleted = 0 ORDER BY k.name"
    )
    params += [revision, revision]
    if limit > 0:
        sql += " LIMIT ?"
        params.append(limit + 1)
    rows = [_row(raw) for raw in conn.execute(sql, params)]
    more = limit > 0 and len(rows) > limit
    return (rows[:limit] if more else rows), more


def count_latest(conn: sqlite3.Connection, prefix: str, revision: int) -> int:
    clause, params = _name_range(prefix, "")
    sql = (
        f"SELECT COUNT(*) FROM kine AS k WHERE {clause.replace('name', 'k.name')} AND k.id <= ?"
        " AND k.id = (SELECT MAX(l.id) FROM kine AS l WHERE l.name = k.name AND l.id <= ?)"
        " AND k.deleted = 0"
    )
    return int(conn.execute(sql, [*params, revision, revision]).fetchone()[0])


def rows_between(conn: sqlite3.Connection, after_id: int, upto_id: int, prefix: str, limit: int) -> list[Row]:
    """Log rows with after_id < id <= upto_id (0 = no upper bound) under ``prefix``, in id order."""
    sql = f"SELECT {ROW_COLUMNS} FROM kine WHERE id > ?"
    params: list = [after_id]
    if upto_id:
        sql += " AND id <= ?"
        params.append(upto_id)
    if prefix:
        clause, name_params = _name_range(prefix, "")
        sql += f" AND {clause}"
        params += name_params
    sql += " ORDER BY id LIMIT ?"
    params.append(limit)
    return [_row(raw) for raw in conn.execute(sql, params)]


def compact_chunk(conn: sqlite3.Connection, done: int, upto: int) -> None:
    """Physically compact from ``done`` to ``upto`` (inside the caller's transaction).

    After compaction at C the state at every revision >= C, and every event > C - 1, must still be
    readable. So the row at C itself always stays; what goes is every row superseded by a row at or
    below C (the prev of each row in (done, upto]) and every tombstone below C ([done, upto))."""
    conn.execute(
        "DELETE FROM kine WHERE id IN"
        " (SELECT prev_revision FROM kine WHERE id > ? AND id <= ? AND prev_revision > 0)",
        (done, upto),
    )
    conn.execute("DELETE FROM kine WHERE id >= ? AND id < ? AND deleted = 1", (done, upto))
