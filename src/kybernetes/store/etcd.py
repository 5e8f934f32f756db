"""The distributed store: etcd v3 over gRPC.

We speak etcd's gRPC API directly with the generated stubs that ship in ``aetcd`` (aetcd's own
client talks to a single host; we need one channel over every endpoint). The channel uses gRPC's
round_robin policy across all endpoints, so when a member dies its subchannel drops out and calls
go to the others; calls that fail in flight with UNAVAILABLE (member gone, no leader during an
election) are retried with backoff until ``timeout``.

Every write is one transaction conditioned on the key's revision, so it is atomic in etcd:

    create   if create_revision(key) == 0   then put             else range (-> KeyExistsError)
    update   if mod_revision(key) == exp    then put             else range (-> Conflict/NotFound)
    delete   if mod_revision(key) == exp    then delete(prev_kv) else range (-> Conflict/NotFound)
             (unconditional delete: if create_revision(key) > 0)

A write retried after an ambiguous failure (the first attempt may have committed) that then fails
its condition is checked against what is stored: if the stored value is ours, the first attempt
won and its revision is returned.

etcd does not report its compaction revision directly; ``compact_revision`` finds the oldest
revision a read still accepts by binary search (a handful of tiny range calls, needed only for
errors and by the compactor).
"""

from __future__ import annotations

import asyncio
import logging
import socket

import grpc
from aetcd import rpc

from kybernetes.store.compactor import CompactionPolicy, Compactor
from kybernetes.store.etcd_watch import EtcdWatch, kv_from_pb
from kybernetes.store.interface import (
    MAX_VALUE_BYTES,
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    StoreError,
    StoreUnavailableError,
    ValueTooLargeError,
)
from kybernetes.store.keyrange import prefix_end_bytes

logger = logging.getLogger(__name__)

SMALL_REQUEST_ATTEMPT_SECONDS = 2.0
RETRYABLE_CODES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
CHANNEL_OPTIONS = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.max_receive_message_length", 512 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


def _is_compacted(error: grpc.aio.AioRpcError) -> bool:
    return error.code() == grpc.StatusCode.OUT_OF_RANGE and "compacted" in (error.details() or "")


def _is_future(error: grpc.aio.AioRpcError) -> bool:
    return error.code() == grpc.StatusCode.OUT_OF_RANGE and "future" in (error.details() or "")


def _cmp(key: bytes, target: str, result: str, revision: int) -> rpc.Compare:
    field = "create_revision" if target == "CREATE" else "mod_revision"
    return rpc.Compare(key=key, target=getattr(rpc.Compare.CompareTarget, target),
                       result=getattr(rpc.Compare.CompareResult, result), **{field: revision})


def channel_target(endpoints: list[tuple[str, int]]) -> str:
    """A gRPC target naming every endpoint (ipv4:/ipv6: address lists; host names resolved now)."""
    addresses: list[str] = []
    for host, port in endpoints:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        ip = infos[0][4][0]
        addresses.append(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
    family = "ipv6" if all(a.startswith("[") for a in addresses) else "ipv4"
    if family == "ipv4" and any(a.startswith("[") for a in addresses):
        raise StoreError("mixing IPv4 and IPv6 etcd endpoints is not supported")
    return f"{family}:{','.join(addresses)}"


def parse_endpoints(spec: str) -> list[tuple[str, int]]:
    endpoints = []
    for part in spec.split(","):
        part = part.strip().removeprefix("http://")
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise StoreError(f"etcd endpoint {part!r} must be host:port")
        endpoints.append((host.strip("[]"), int(port)))
    if not endpoints:
        raise StoreError("etcd store URL names no endpoint: use etcd://host:port[,host:port...]")
    return endpoints


class EtcdStore:
    def __init__(self, endpoints: list[tuple[str, int]], *, timeout: float = 10.0,
                 compaction: CompactionPolicy | None = None):
        self.endpoints = endpoints
        self.timeout = float(timeout)
        self._compaction = compaction or CompactionPolicy()
        self._channel: grpc.aio.Channel | None = None
        self._kv: rpc.KVStub | None = None
        self.watch_stub: rpc.WatchStub | None = None
        self._compactor: Compactor | None = None
        self._known_compacted = 0
        self._closed = False

    async def start(self) -> None:
        try:
            target = await asyncio.to_thread(channel_target, self.endpoints)
        except OSError as error:
            raise StoreUnavailableError(f"cannot resolve etcd endpoints {self.endpoints}: {error}") from None
        self._channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._kv = rpc.KVStub(self._channel)
        self.watch_stub = rpc.WatchStub(self._channel)
        try:
            await self.current_revision()
        except StoreError:
            await self.close()
            raise
        self._compactor = Compactor(self, self._compaction)
        self._compactor.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._compactor is not None:
            await self._compactor.stop()
        if self._channel is not None:
            await self._channel.close()

    # --- calls with retry ----------------------------------------------------------------------

    async def _call(self, method_name: str, request, *, on_retry=None, attempt_timeout: float = 0):
        """Call a KV method, retrying UNAVAILABLE/DEADLINE_EXCEEDED with backoff until ``timeout``.
        ``on_retry`` is called (once per retry) so writes know their outcome became ambiguous.
        ``attempt_timeout`` bounds one attempt: a member that lost its leader holds a request for
        seconds before failing it, while another member could answer at once."""
        if self._closed or self._kv is None:
            raise StoreUnavailableError("store is closed")
        method = getattr(self._kv, method_name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        delay = 0.05
        while True:
            remaining = deadline - loop.time()
            try:
                limit = min(remaining, attempt_timeout) if attempt_timeout else remaining
                return await method(request, timeout=max(limit, 0.05))
            except grpc.aio.AioRpcError as error:
                if self._closed:
                    raise StoreUnavailableError("store is closed") from None
                if error.code() not in RETRYABLE_CODES or deadline - loop.time() <= delay:
                    raise self._translate(error) from None
                logger.info("etcd %s failed (%s: %s); retrying", method_name, error.code().name, error.details())
                if on_retry is not None:
                    on_retry()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            except grpc.aio.UsageError as error:  # the channel was closed under us
                raise StoreUnavailableError(f"etcd channel closed: {error}") from None

    def _translate(self, error: grpc.aio.AioRpcError) -> StoreError:
        details = error.details() or ""
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT and "too large" in details:
            return ValueTooLargeError("?", -1)
        if error.code() in RETRYABLE_CODES:
            return StoreUnavailableError(f"etcd unavailable at {self.endpoints}: {details}")
        return StoreError(f"etcd error {error.code().name}: {details}")

    async def _range(self, request: rpc.RangeRequest, attempt_timeout: float = 0) -> rpc.RangeResponse:
        try:
            return await self._call("Range", request, attempt_timeout=attempt_timeout)
        except StoreError as error:
            cause = error.__context__
            if isinstance(cause, grpc.aio.AioRpcError) and _is_compacted(cause):
                raise CompactedError(request.revision, await self.compact_revision()) from None
            if isinstance(cause, grpc.aio.AioRpcError) and _is_future(cause):
                raise FutureRevisionError(request.revision, await self.current_revision()) from None
            raise

    # --- reads ---------------------------------------------------------------------------------

    async def current_revision(self) -> int:
        response = await self._call("Range", rpc.RangeRequest(key=b"\0", count_only=True),
                                    attempt_timeout=SMALL_REQUEST_ATTEMPT_SECONDS)
        return response.header.revision

    async def compact_revision(self) -> int:
        """The oldest revision etcd still serves, found by binary search over range-at-revision."""
        current = await self.current_revision()
        low, high = max(self._known_compacted, 1), current  # answer in [low, high]
        while low < high:
            middle = (low + high) // 2
            try:
                await self._kv.Range(rpc.RangeRequest(key=b"\0", count_only=True, revision=middle),
                                     timeout=self.timeout)
                high = middle
            except grpc.aio.AioRpcError as error:
                if not _is_compacted(error):
                    raise self._translate(error) from None
                low = middle + 1
        compacted = low if low > 1 else 0
        self._known_compacted = max(self._known_compacted, compacted)
        return compacted

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        response = await self._range(rpc.RangeRequest(key=_key(key), revision=max(revision, 0)),
                                     SMALL_REQUEST_ATTEMPT_SECONDS)
        return kv_from_pb(response.kvs[0]) if response.kvs else None

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        raw_prefix = prefix.encode()
        start = raw_prefix
        if start_after and start_after >= prefix:
            start = start_after.encode() + b"\0"
        request = rpc.RangeRequest(key=start or b"\0", range_end=prefix_end_bytes(raw_prefix),
                                   revision=max(revision, 0), limit=max(limit, 0))
        response = await self._range(request)
        items = [kv_from_pb(kv) for kv in response.kvs]
        return ListResult(items, revision if revision > 0 else response.header.revision, bool(response.more))

    async def count(self, prefix: str) -> int:
        raw = prefix.encode()
        response = await self._range(rpc.RangeRequest(key=raw or b"\0", range_end=prefix_end_bytes(raw),
                                                      count_only=True), SMALL_REQUEST_ATTEMPT_SECONDS)
        return int(response.count)

    # --- writes --------------------------------------------------------------------------------

    async def _txn(self, key: str, compare: rpc.Compare, success: rpc.RequestOp) -> tuple[rpc.TxnResponse, bool]:
        """Run the conditional transaction; (response, whether a retry made the outcome ambiguous)."""
        retried = []
        request = rpc.TxnRequest(compare=[compare], success=[success],
                                 failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=_key(key)))])
        try:
            response = await self._call("Txn", request, on_retry=lambda: retried.append(True),
                                        attempt_timeout=SMALL_REQUEST_ATTEMPT_SECONDS)
        except ValueTooLargeError:
            raise ValueTooLargeError(key, -1) from None
        return response, bool(retried)

    async def create(self, key: str, value: bytes) -> int:
        raw, value = _key(key), _value(key, value)
        response, retried = await self._txn(
            key, _cmp(raw, "CREATE", "EQUAL", 0), rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value))
        )
        if response.succeeded:
            return response.header.revision
        current = _failure_kv(response)
        if retried and current is not None and current.value == value and current.create_revision == current.mod_revision:
            return current.mod_revision  # our first attempt committed
        raise KeyExistsError(key)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        raw, value = _key(key), _value(key, value)
        if expected_revision <= 0:
            current = await self.get(key)
            if current is None:
                raise KeyNotFoundError(key)
            raise ConflictError(key, expected_revision, current)
        response, retried = await self._txn(
            key, _cmp(raw, "MOD", "EQUAL", expected_revision),
            rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value)),
        )
        if response.succeeded:
            return response.header.revision
        current = _failure_kv(response)
        if current is None:
            raise KeyNotFoundError(key)
        if retried and current.value == value:
            return current.mod_revision  # our first attempt committed
        raise ConflictError(key, expected_revision, current)

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[int, KeyValue]:
        raw = _key(key)
        compare = (_cmp(raw, "MOD", "EQUAL", expected_revision) if expected_revision > 0
                   else _cmp(raw, "CREATE", "GREATER", 0))
        response, _ = await self._txn(
            key, compare, rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=raw, prev_kv=True))
        )
        if response.succeeded:
            deleted = response.responses[0].response_delete_range
            if not deleted.prev_kvs:  # gone between compare and delete: impossible inside one txn
                raise KeyNotFoundError(key)
            return response.header.revision, kv_from_pb(deleted.prev_kvs[0])
        current = _failure_kv(response)
        if current is None:
            raise KeyNotFoundError(key)
        raise ConflictError(key, expected_revision, current)

    async def compact(self, revision: int) -> None:
        try:
            await self._call("Compact", rpc.CompactionRequest(revision=int(revision)))
        except StoreError as error:
            cause = error.__context__
            if isinstance(cause, grpc.aio.AioRpcError) and _is_compacted(cause):
                return  # already compacted at or beyond it: nothing to do
            if isinstance(cause, grpc.aio.AioRpcError) and _is_future(cause):
                raise FutureRevisionError(revision, await self.current_revision()) from None
            raise
        self._known_compacted = max(self._known_compacted, int(revision))

    def watch(self, prefix: str, after_revision: int) -> EtcdWatch:
        if self._closed or self.watch_stub is None:
            raise StoreUnavailableError("store is closed")
        return EtcdWatch(self, prefix, max(0, int(after_revision)))


def _key(key: str) -> bytes:
    if not isinstance(key, str) or not key:
        raise StoreError(f"key must be a non-empty string, not {key!r}")
    return key.encode()


def _value(key: str, value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise StoreError(f"value for {key!r} must be bytes, not {type(value).__name__}")
    if len(value) > MAX_VALUE_BYTES:
        raise ValueTooLargeError(key, len(value))
    return bytes(value)


def _failure_kv(response: rpc.TxnResponse) -> KeyValue | None:
    ranged = response.responses[0].response_range if response.responses else None
    return kv_from_pb(ranged.kvs[0]) if ranged is not None and ranged.kvs else None


async def open_etcd(endpoints: str, **options) -> EtcdStore:
    store = EtcdStore(parse_endpoints(endpoints), **options)
    await store.start()
    return store
