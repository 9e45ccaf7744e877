"""A cheap IEEE 2030.5 load generator: the requests a fleet of DER makes, pre-encoded, written
over raw asyncio TLS connections (CSIP TLS 1.2 ECDHE-ECDSA-AES128-CCM8 with the aggregators'
client certificates, ``security.tls.client_context``), HTTP/1.1 keep-alive, one request in
flight per connection, and only the status line and Content-Length of each response read.

Open loop: operations are scheduled at a fixed rate whether or not earlier ones were answered;
an operation waits in its aggregator's queue for a free connection, and its latency is measured
from its *scheduled* time (so a slow server shows up as latency, not as a lower offered rate:
no coordinated omission). An operation is a telemetry POST (a MirrorMeterReadingList with the
W and var MirrorMeterReadings, as ``sim.fleet.agent.DerAgent.post_telemetry`` sends it) or, a
``poll_fraction`` of the time, a control poll (GET DERControlList, then GET DefaultDERControl,
as ``DerAgent.poll``); the second GET of a poll is timed from when it was sent.

    gen = LoadGen(target, fleet)            # in a load process (see ``serve_pipe``)
    await gen.connect()
    stats = await gen.drive(rate_ops_per_s=350, seconds=30)
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

SEP = b"application/sep+xml"
#: operations waiting for a connection at most (beyond: shed, counted as failed)
MAX_BACKLOG = 5_000
#: an operation: (scheduled perf_counter time, DER index, poll or not)
Job = tuple[float, int, bool]
#: how long the in-flight operations of a phase may still take after it, s
DRAIN_S = 30.0


@dataclass(frozen=True, slots=True)
class Der:
    """One simulated DER: its aggregator (index), usage point and MirrorMeterReading mRIDs."""

    aggregator: int
    mup_href: str
    w_mrid: str
    var_mrid: str


@dataclass(frozen=True, slots=True)
class Fleet:
    """What a load process drives: aggregator certificates (cert, key), the DERs, the hrefs
    polled (the same program for all)."""

    host: str
    port: int
    ca: str
    aggregators: list[tuple[str, str]]
    ders: list[Der]
    controls_href: str
    default_href: str
    connections_per_aggregator: int = 4
    post_rate_s: int = 30
    poll_fraction: float = 0.05


def telemetry_body(der: Der, w: int, var: int, start_s: int, post_rate_s: int) -> bytes:
    """The MirrorMeterReadingList ``DerAgent.post_telemetry`` posts, byte for byte (its
    ``to_xml``), formatted rather than rendered."""
    period = b"<timePeriod><duration>%d</duration><start>%d</start></timePeriod>" % (
        post_rate_s,
        start_s,
    )
    return b"".join(
        (
            b'<MirrorMeterReadingList xmlns="urn:ieee:std:2030.5:ns" all="2" results="2">',
            b"<MirrorMeterReading><mRID>%s</mRID><Reading>%s<value>%d</value></Reading>"
            b"</MirrorMeterReading>" % (der.w_mrid.encode(), period, w),
            b"<MirrorMeterReading><mRID>%s</mRID><Reading>%s<value>%d</value></Reading>"
            b"</MirrorMeterReading>" % (der.var_mrid.encode(), period, var),
            b"</MirrorMeterReadingList>",
        )
    )


def post_request(host: bytes, path: str, body: bytes) -> bytes:
    return b"".join(
        (
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nAccept: %s\r\n"
            b"Content-Length: %d\r\n\r\n" % (path.encode(), host, SEP, SEP, len(body)),
            body,
        )
    )


def get_request(host: bytes, path: str) -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n\r\n" % (path.encode(), host, SEP)


def header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case) in a lower-cased response head."""
    at = head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    start = at + len(name) + 3
    stop = head.find(b"\r\n", start)
    return head[start : stop if stop >= 0 else len(head)].strip()


class _Http(asyncio.Protocol):
    """One keep-alive connection, one request at a time: ``request`` returns (status, head)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = b""
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] (uvloop's is no asyncio.Transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self._buf[:end].lower()
        length = int(header(head, b"content-length") or 0)
        if len(self._buf) < end + 4 + length:
            return
        self._buf = self._buf[end + 4 + length :]
        waiter.set_result((int(head[9:12]), head))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        if self.closed:
            raise ConnectionError("connection closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self._waiter


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    http_errors: int = 0  # 4xx / 5xx / transport errors
    failed_ops: int = 0  # shed (backlog full) or unanswered at the end
    statuses: dict[int, int] = field(default_factory=dict)


class LoadGen:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.host = f"{fleet.host}:{fleet.port}".encode()
        self._queues: list[asyncio.Queue[Job | None]] = []
        self._conns: list[_Http] = []
        self._workers: list[asyncio.Task[None]] = []
        self.stats = Stats()
        self._counter = 0

    async def connect(self) -> None:
        """Open ``connections_per_aggregator`` TLS connections per aggregator certificate."""
        from openderms.protocols.ieee2030_5.security.tls import client_context

        loop = asyncio.get_running_loop()
        ca = Path(self.fleet.ca)
        for cert, key in self.fleet.aggregators:
            ctx: ssl.SSLContext = client_context(Path(cert), Path(key), ca)
            queue: asyncio.Queue[Job | None] = asyncio.Queue()
            self._queues.append(queue)
            for _ in range(self.fleet.connections_per_aggregator):
                _, conn = await loop.create_connection(
                    _Http, self.fleet.host, self.fleet.port, ssl=ctx
                )
                self._conns.append(conn)
                self._workers.append(asyncio.create_task(self._work(conn, queue)))

    async def close(self) -> None:
        for q in self._queues:
            for _ in range(self.fleet.connections_per_aggregator):
                q.put_nowait(None)
        await asyncio.gather(*self._workers, return_exceptions=True)
        for c in self._conns:
            if c.transport is not None:
                c.transport.close()

    async def _work(self, conn: _Http, queue: asyncio.Queue[Job | None]) -> None:
        host = self.host
        while (job := await queue.get()) is not None:
            scheduled, index, poll = job
            stats, fleet = self.stats, self.fleet
            try:
                if poll:
                    status, _ = await conn.request(get_request(host, fleet.controls_href))
                    t1 = time.perf_counter()
                    stats.latencies_ms.append((t1 - scheduled) * 1000)
                    stats.requests += 1
                    self._count(stats, status)
                    status, _ = await conn.request(get_request(host, fleet.default_href))
                    stats.latencies_ms.append((time.perf_counter() - t1) * 1000)
                else:
                    der = fleet.ders[index]
                    w = (index * 7919 + self._counter) % 9_000
                    self._counter += 1
                    body = telemetry_body(der, w, w // 10, int(time.time()), fleet.post_rate_s)
                    status, _ = await conn.request(post_request(host, der.mup_href, body))
                    stats.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
                stats.requests += 1
                self._count(stats, status)
            except ConnectionError:
                stats.http_errors += 1
                stats.failed_ops += 1
                if conn.closed:
                    return

    @staticmethod
    def _count(stats: Stats, status: int) -> None:
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
        if status >= 400:
            stats.http_errors += 1

    async def drive(self, rate_ops_per_s: float, seconds: float) -> dict[str, Any]:
        """Open loop: ``rate_ops_per_s`` operations per second for ``seconds``, DERs in turn
        (each on a connection of its aggregator)."""
        self.stats = stats = Stats()
        fleet, queues = self.fleet, self._queues
        n = len(fleet.ders)
        every = round(1 / fleet.poll_fraction) if fleet.poll_fraction > 0 else 0
        cpu0, t0 = time.process_time(), time.perf_counter()
        due, interval = 0, 1 / rate_ops_per_s
        while (now := time.perf_counter()) < t0 + seconds:
            while t0 + due * interval <= now:
                index = due % n
                job = (t0 + due * interval, index, bool(every and due % every == every - 1))
                due += 1
                queue = queues[fleet.ders[index].aggregator]
                if queue.qsize() >= MAX_BACKLOG:
                    stats.failed_ops += 1
                    continue
                queue.put_nowait(job)
            await asyncio.sleep(min(0.002, t0 + due * interval - now))
        sent_s = time.perf_counter() - t0
        deadline = time.perf_counter() + DRAIN_S
        while any(q.qsize() for q in queues) or self._busy():
            if time.perf_counter() > deadline:
                stats.failed_ops += sum(q.qsize() for q in queues) + self._busy()
                break
            await asyncio.sleep(0.01)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        return {
            "ops": due,
            "requests": stats.requests,
            "http_errors": stats.http_errors,
            "failed_ops": stats.failed_ops,
            "statuses": stats.statuses,
            "latencies_ms": stats.latencies_ms,
            "wall_s": wall,
            "sent_s": sent_s,
            "cpu_s": cpu,
        }

    def _busy(self) -> int:
        return sum(1 for c in self._conns if c._waiter is not None and not c._waiter.done())

    async def post_all(self, requests: Sequence[tuple[int, str, bytes]], per_agg: int) -> Any:
        """POST each (aggregator, path, body), ``per_agg`` at a time per aggregator: the
        Location of each answer (None when refused) and the seconds it took."""
        out: list[str | None] = [None] * len(requests)
        per = self.fleet.connections_per_aggregator
        k = min(per_agg, per)
        gates = [asyncio.Semaphore(k) for _ in self._queues]
        free = [list(self._conns[a * per : a * per + k]) for a in range(len(self._queues))]

        async def one(i: int, agg: int, path: str, body: bytes) -> None:
            async with gates[agg]:
                conn = free[agg].pop()
                try:
                    status, head = await conn.request(post_request(self.host, path, body))
                finally:
                    free[agg].append(conn)
            location = header(head, b"location")
            if status in (201, 204) and location is not None:
                out[i] = location.decode()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i, *r) for i, r in enumerate(requests)))
        return out, time.perf_counter() - t0


def serve_pipe(conn: Connection, fleet: Fleet) -> None:
    """A load process: connect, then answer the parent's commands until None:
    ("drive", rate, seconds) -> ``drive``'s dict; ("post", requests, per_agg) -> (locations, s);
    ("ders", ders) and ("hrefs", controls, default) set what is driven."""
    import uvloop

    async def main() -> None:
        gen = LoadGen(fleet)
        await gen.connect()
        conn.send("ready")
        while (cmd := conn.recv()) is not None:
            if cmd[0] == "drive":
                conn.send(await gen.drive(cmd[1], cmd[2]))
            elif cmd[0] == "post":
                conn.send(await gen.post_all(cmd[1], cmd[2]))
            elif cmd[0] == "ders":
                gen.fleet = replace(gen.fleet, ders=cmd[1])
            elif cmd[0] == "hrefs":
                gen.fleet = replace(gen.fleet, controls_href=cmd[1], default_href=cmd[2])
        await gen.close()

    uvloop.run(main())
