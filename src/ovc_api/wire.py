"""A transaction's statements sent in one round trip on libpq's pipeline, driven directly.

psycopg's pipeline mode gives the same round trip, but its asyncio machinery waits on the
socket after every statement it queues (a future, a reader and a writer registered and
removed each time): 12-16 waits per fast-lane request, 0.53 ms of CPU against 0.13 ms for
the same four statements sent here (bench/README.md). Here every statement is queued, the
Sync sent, and the socket waited on only until the results are in.

Statements are prepared once per connection under names of their own (psycopg's are
`_pg3_*`). psycopg sends `DEALLOCATE ALL` after a rollback when it has prepared statements
of its own, which drops these too: a statement found missing (26000) is prepared again and
the transaction run once more.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import abc, errors, pq
from psycopg._queries import _query2pg_nocache  # psycopg's own %(name)s -> $n conversion
from psycopg.abc import Buffer
from psycopg.adapt import AdaptersMap, Loader, PyFormat, Transformer

_TEXT = pq.Format.TEXT
_OK = frozenset({pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK})
_MISSING_STATEMENT = "26000"  # invalid_sql_statement_name: not prepared on this connection
_names = (f"ovc_{n}".encode() for n in itertools.count())


@dataclass
class Prepared:
    """A statement in psycopg's `%(name)s` style, converted once to libpq's `$n` form.
    `text_as_bytes`: its `text` columns are returned as the bytes the database sent (UTF-8
    JSON written by PostgreSQL goes into a response as it is, not decoded and encoded
    again: a page of Khmer names costs 50-100 us each way)."""

    sql: str
    text_as_bytes: bool = False
    query: bytes = b""
    formats: list[PyFormat] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def convert(self, encoding: str) -> None:
        if not self.query:
            query, formats, order, _parts = _query2pg_nocache(self.sql.encode(encoding), encoding)
            self.query, self.formats, self.order = query, formats, order or []


class _Bytes(Loader):
    def load(self, data: Buffer) -> bytes:
        return bytes(data)


_TEXT_AS_BYTES = AdaptersMap(psycopg.adapters)
_TEXT_AS_BYTES.register_loader("text", _Bytes)


@dataclass(frozen=True)
class _TextAsBytes:
    """A connection's adaptation context with `text` loaded as bytes."""

    connection: psycopg.AsyncConnection[Any]
    adapters: AdaptersMap = _TEXT_AS_BYTES


@dataclass
class Result:
    """A statement's rows (as psycopg's text loaders give them) and its columns' names."""

    rows: list[tuple[Any, ...]]
    columns: tuple[str, ...]


async def run(
    raw: psycopg.AsyncConnection[Any],
    prepared_names: dict[tuple[bytes, tuple[int, ...]], bytes],
    preamble: Sequence[bytes],
    statements: Sequence[tuple[Prepared, Mapping[str, Any]]],
) -> list[Result]:
    """BEGIN (or whatever `preamble` holds) and the statements in one round trip on a
    connection in autocommit mode, leaving the transaction open; the statements' results.
    `prepared_names` is the connection's own record of what it has prepared."""
    try:
        return await _exchange(raw, prepared_names, preamble, statements)
    except errors.InvalidSqlStatementName:
        # Deallocated behind our back (psycopg's DEALLOCATE ALL): nothing of the
        # transaction stays; prepare everything again.
        await finish(raw, b"ROLLBACK")
        prepared_names.clear()
        return await _exchange(raw, prepared_names, preamble, statements)


async def finish(raw: psycopg.AsyncConnection[Any], command: bytes) -> None:
    """COMMIT or ROLLBACK, one round trip."""
    pgconn = raw.pgconn
    try:
        if pgconn.transaction_status == pq.TransactionStatus.IDLE:
            return
        pgconn.send_query(command)
        await _flush(pgconn)
        results = await _collect(pgconn, until_sync=False)
    except BaseException:
        _close(raw)
        raise
    _raise_for(raw, results)


async def _exchange(
    raw: psycopg.AsyncConnection[Any],
    prepared_names: dict[tuple[bytes, tuple[int, ...]], bytes],
    preamble: Sequence[bytes],
    statements: Sequence[tuple[Prepared, Mapping[str, Any]]],
) -> list[Result]:
    pgconn = raw.pgconn
    if raw.closed or raw.broken:
        raise psycopg.OperationalError("the connection is closed")
    encoding = raw.info.encoding
    transformer = Transformer(raw)
    sent: list[tuple[bytes, tuple[int, ...], Sequence[Buffer | None], list[pq.Format]]] = []
    for statement, values in statements:
        statement.convert(encoding)
        params = transformer.dump_sequence(
            [values[name] for name in statement.order], statement.formats
        )
        sent.append(
            (
                statement.query,
                tuple(transformer.types or ()),
                params,
                list(transformer.formats or ()),
            )
        )
    newly: list[tuple[bytes, tuple[int, ...]]] = []
    parsed: list[bool] = []  # per statement: prepared in this exchange (a result of its own)
    try:
        pgconn.enter_pipeline_mode()
        for command in preamble:
            pgconn.send_query_params(command, None)
        for query, types, params, formats in sent:
            name = prepared_names.get((query, types))
            parsed.append(name is None)
            if name is None:
                name = next(_names)
                pgconn.send_prepare(name, query, param_types=types)
                newly.append((query, types))
                prepared_names[(query, types)] = name
            pgconn.send_query_prepared(name, params, param_formats=formats, result_format=_TEXT)
        pgconn.pipeline_sync()
        await _flush(pgconn)
        results = await _collect(pgconn, until_sync=True)
        pgconn.exit_pipeline_mode()
    except BaseException:
        for key in newly:
            prepared_names.pop(key, None)
        _close(raw)
        raise
    failed = next(
        (r for command in results for r in command if r.status == pq.ExecStatus.FATAL_ERROR),
        None,
    )
    if failed is not None:
        for key in newly:  # a failed pipeline may not have prepared them
            prepared_names.pop(key, None)
        raise errors.error_from_result(failed, encoding=encoding)
    # One result per preamble command, then per statement a Parse's (when prepared now)
    # and the execution's.
    executions = results[len(preamble) :]
    out: list[Result] = []
    index = 0
    as_bytes: abc.Transformer | None = None
    for (statement, _values), prepared_now in zip(statements, parsed, strict=True):
        if prepared_now:
            index += 1  # the Parse's result
        (result,) = executions[index]
        index += 1
        loading = transformer
        if statement.text_as_bytes:
            loading = as_bytes = as_bytes or Transformer(_TextAsBytes(raw))
        loading.set_pgresult(result, set_loaders=True, format=_TEXT)
        columns = tuple((result.fname(i) or b"").decode(encoding) for i in range(result.nfields))
        out.append(Result(loading.load_rows(0, result.ntuples, tuple), columns))
    return out


async def _flush(pgconn: pq.abc.PGconn) -> None:
    while pgconn.flush():
        await _wait(pgconn.socket, write=True)


async def _collect(pgconn: pq.abc.PGconn, *, until_sync: bool) -> list[list[pq.abc.PGresult]]:
    """Every command's results, read as they arrive, up to the pipeline's Sync (or, out of
    pipeline mode, the end of the one command's results)."""
    commands: list[list[pq.abc.PGresult]] = []
    current: list[pq.abc.PGresult] = []
    while True:
        pgconn.consume_input()
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                if not until_sync:
                    return [current]
                if current:
                    commands.append(current)
                    current = []
                continue
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                return commands
            current.append(result)
        await _wait(pgconn.socket)


async def _wait(fd: int, *, write: bool = False) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _raise_for(raw: psycopg.AsyncConnection[Any], results: list[list[pq.abc.PGresult]]) -> None:
    for command in results:
        for result in command:
            if result.status not in _OK:
                raise errors.error_from_result(result, encoding=raw.info.encoding)


def _close(raw: psycopg.AsyncConnection[Any]) -> None:
    """Close a connection left midway through an exchange (a cancellation, a socket
    error): its state is unknown, so the pool must not hand it out again (`raw.closed`)."""
    raw.pgconn.finish()


async def copy_out(
    raw: psycopg.AsyncConnection[Any], query: str, batch_rows: int
) -> AsyncGenerator[list[bytes], None]:
    """`COPY (...) TO STDOUT`'s rows (text format, each with its line end) in batches of
    `batch_rows` (the last one the rest), in the connection's open transaction. The rows
    are taken from libpq's buffer in a loop of C calls, with a wait only when it is empty
    (a cursor's FETCH is a round trip per batch, and each row a tuple of loaded values). A
    COPY left midway (the client hung up) closes the connection: its state is unknown to
    psycopg and the pool."""
    pgconn = raw.pgconn
    if raw.closed or raw.broken:
        raise psycopg.OperationalError("the connection is closed")
    finished = False
    try:
        pgconn.send_query(query.encode(raw.info.encoding))
        await _flush(pgconn)
        while True:
            pgconn.consume_input()
            if not pgconn.is_busy():
                break
            await _wait(pgconn.socket)
        started = pgconn.get_result()
        if started is None or started.status != pq.ExecStatus.COPY_OUT:
            results = [[started]] if started is not None else []
            results += await _collect(pgconn, until_sync=False)
            _raise_for(raw, results)
            raise psycopg.ProgrammingError("not a COPY TO STDOUT")
        batch: list[bytes] = []
        while True:
            size, data = pgconn.get_copy_data(1)
            if size > 0:
                batch.append(bytes(data))
                if len(batch) == batch_rows:
                    yield batch
                    batch = []
            elif size == 0:  # libpq's buffer is empty: wait for more
                await _wait(pgconn.socket)
                pgconn.consume_input()
            elif size == -1:  # the end: the COPY's own result (an error?), then nothing
                results = await _collect(pgconn, until_sync=False)
                finished = True
                _raise_for(raw, results)
                if batch:
                    yield batch
                return
            else:
                raise errors.error_from_result(
                    pgconn.get_result() or started, encoding=raw.info.encoding
                )
    finally:
        if not finished:
            _close(raw)
