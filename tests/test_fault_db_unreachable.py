"""The database stops answering while Haven serves: a clear 503 (JSON for the API, a page for a
browser) with Retry-After, never a 500; nothing half-written; and Haven answers again by itself
once the database is back, without a restart.

On PostgreSQL a small TCP proxy of the test's own stands between a real Haven (`haven serve`) and
the server: cutting it closes every connection at once and refuses new ones, as a dead network
link or a crashed database host does. On SQLite the database's directory is moved away and back,
as when the volume holding it disappears.
"""

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.fault_support import (
    REGISTRAR,
    REGISTRAR_PASSWORD,
    Answer,
    Client,
    Scratch,
    Server,
    assert_consistent,
    assert_wholly_present_or_absent,
    free_port,
    group_members,
    households,
    prepare,
    running,
    scratch_database,
    stored_households,
    with_address,
)

CLIENTS = 4
BEFORE_CUT = 40  # households registered by the clients before the database goes away
OUTAGE_SECONDS = 2.0
RECOVERY_SECONDS = 30


class Proxy:
    """A TCP relay on loopback: `cut` closes every relayed connection and refuses new ones (the
    port no longer listens); `restore` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def restore(self) -> None:
        assert self.listener is None
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.listener = listener
        self._start(self._accept, listener)

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                downstream, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                downstream.close()
                continue
            for sock in (downstream, upstream):
                sock.settimeout(None)
            with self.lock:
                if self.listener is not listener:  # cut meanwhile
                    downstream.close()
                    upstream.close()
                    return
                self.sockets.update((downstream, upstream))
            self._start(self._pump, downstream, upstream)
            self._start(self._pump, upstream, downstream)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(target)

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> None:
        with self.lock:
            listener, self.listener = self.listener, None
            relayed = list(self.sockets)
        if listener is not None:
            listener.close()
        for sock in relayed:
            self._close(sock)

    def close(self) -> None:
        self.cut()
        for thread in self.threads:
            thread.join(timeout=5)


@dataclass
class Outage:
    """How a database is taken away from a running Haven and given back."""

    cut: Callable[[], None]
    restore: Callable[[], None]


@dataclass
class Seen:
    """Every answer the clients got, by household."""

    tried: list[dict[str, Any]] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    unavailable: list[Answer] = field(default_factory=list)
    other: list[Answer] = field(default_factory=list)
    lost_connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _register(client: Client, household: dict[str, Any], seen: Seen) -> None:
    with seen.lock:
        seen.tried.append(household)
    try:
        answer = client.post_json("/api/households", household)
    except OSError:
        with seen.lock:
            seen.lost_connections += 1
        return
    with seen.lock:
        if answer.status in (200, 201):
            seen.acknowledged.add(household["uuid"])
        elif answer.status == 503:
            seen.unavailable.append(answer)
        else:
            seen.other.append(answer)


def assert_unavailable_json(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.body[:1000])
    assert answer.headers.get("Content-Type", "").startswith("application/json")
    assert int(answer.headers["Retry-After"]) > 0
    detail = answer.json()["detail"].lower()
    assert "database" in detail, detail
    assert "not saved" in detail or "nothing was saved" in detail, detail


def assert_unavailable_page(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.body[:1000])
    assert answer.headers.get("Content-Type", "").startswith("text/html")
    assert int(answer.headers["Retry-After"]) > 0
    page = answer.body.decode().lower()
    assert "<html" in page
    assert "database" in page, page[:2000]
    assert "not saved" in page or "nothing was saved" in page, page[:2000]


def signed_in(port: int) -> Client:
    """A browser's session: the registrar signed in through the sign-in page."""
    browser = Client(port)
    assert browser.request("GET", "/login/").status == 200
    form = urlencode(
        {
            "username": REGISTRAR,
            "password": REGISTRAR_PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        }
    )
    answer = browser.request(
        "POST",
        "/login/",
        form.encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Referer": "http://127.0.0.1/"},
    )
    assert answer.status == 302, (answer.status, answer.body[:2000])
    assert "sessionid" in browser.cookies
    return browser


def concurrent_reads(server: Server, token: str) -> list[int]:
    """One read from as many clients at once as the server has threads: every thread serves."""
    statuses: list[int] = []

    def read() -> None:
        client = Client(server.port, token)
        statuses.append(client.request("GET", "/api/households?limit=1").status)
        client.close()

    probes = [threading.Thread(target=read) for _ in range(server.workers * server.threads)]
    for probe in probes:
        probe.start()
    for probe in probes:
        probe.join(timeout=30)
    return statuses


def outage_is_answered_with_503_and_recovers(
    scratch: Scratch, server: Server, token: str, outage: Outage
) -> None:
    sent = households(BEFORE_CUT + 400, seed=7)
    queue = iter(sent)
    queue_lock = threading.Lock()
    seen = Seen()
    stop_sending = threading.Event()

    def next_household() -> dict[str, Any] | None:
        with queue_lock:
            return next(queue, None)

    def sender() -> None:
        client = Client(server.port, token, timeout=30)
        try:
            while not stop_sending.is_set() and (household := next_household()) is not None:
                _register(client, household, seen)
                if seen.unavailable:
                    time.sleep(0.2)  # a device backs off; the outage still gets many requests
        finally:
            client.close()

    browser = signed_in(server.port)
    assert browser.request("GET", "/registrations/").status == 200
    device = Client(server.port, token)
    workers_before = sorted(group_members(server.process.pid if server.process else -1))

    senders = [threading.Thread(target=sender, daemon=True) for _ in range(CLIENTS)]
    for thread in senders:
        thread.start()
    try:
        while len(seen.acknowledged) < BEFORE_CUT:
            assert any(t.is_alive() for t in senders), seen.other[:1]
            time.sleep(0.005)
        outage.cut()  # with requests in flight on every client
        cut_at = time.monotonic()
        # Requests that arrive while the database is away, just before their write.
        after_cut = households(1, seed=8)[0]
        assert_unavailable_json(device.post_json("/api/households", after_cut))
        assert_unavailable_json(
            device.post_json("/api/households/batch", {"households": [sent[0]]})
        )
        assert_unavailable_json(device.request("GET", "/api/households"))
        assert_unavailable_page(browser.request("GET", "/registrations/"))
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
    finally:
        stop_sending.set()
        for thread in senders:
            thread.join(timeout=60)
    assert not any(t.is_alive() for t in senders)
    assert not seen.other, [(a.status, a.body[:500]) for a in seen.other[:3]]
    assert seen.unavailable, "no request in flight met the outage"
    for answer in seen.unavailable:
        assert_unavailable_json(answer)

    log_at_restore = server.log_path.stat().st_size
    outage.restore()
    restored_at = time.monotonic()

    def errors_since_restore() -> str:
        with server.log_path.open("rb") as log:
            log.seek(log_at_restore)
            lines = log.read().decode(errors="replace").splitlines()
        return "\n".join(line for line in lines if "database unavailable" in line)[-3000:]

    # The same workers answer again by themselves: every thread's broken connection discarded.
    first_success = None
    while first_success is None:
        answer = device.request("GET", "/api/households?limit=1")
        if answer.status == 200:
            first_success = time.monotonic() - restored_at
        else:
            assert_unavailable_json(answer)
            assert time.monotonic() - restored_at < RECOVERY_SECONDS, (
                f"Haven did not recover:\n{errors_since_restore()}"
            )
            time.sleep(0.1)
    # That answer came from one worker (the device's connection is kept alive). Then as many new
    # clients at once as the server has threads (the workers share them out as they accept) must
    # all be answered, three rounds in a row, within the same bound.
    whole_rounds = 0
    while whole_rounds < 3:
        statuses = concurrent_reads(server, token)
        if statuses == [200] * server.workers * server.threads:
            whole_rounds += 1
            continue
        whole_rounds = 0
        assert set(statuses) <= {200, 503}, statuses
        assert time.monotonic() - restored_at < RECOVERY_SECONDS, (
            f"not every thread recovered: {statuses}\n{errors_since_restore()}"
        )
        time.sleep(0.2)
    all_recovered = time.monotonic() - restored_at
    assert all_recovered < RECOVERY_SECONDS, f"recovered only after {all_recovered:.1f} s"
    assert browser.request("GET", "/registrations/").status == 200
    assert server.starts == 1
    assert sorted(group_members(server.process.pid if server.process else -1)) == workers_before

    # Nothing half-written: each household is wholly stored or wholly absent; a retry of every
    # household not acknowledged then registers it (or finds it, if only its answer was lost).
    attempted = [*seen.tried, after_cut]
    stored = stored_households(scratch)
    assert_wholly_present_or_absent(stored, attempted)
    unacknowledged = [h for h in attempted if h["uuid"] not in seen.acknowledged]
    retried = {"created": 0, "exists": 0}
    for household in unacknowledged:
        answer = device.post_json("/api/households", household)
        assert answer.status in (200, 201), (answer.status, answer.body[:1000])
        retried["created" if answer.status == 201 else "exists"] += 1
    stored = stored_households(scratch)
    present = assert_wholly_present_or_absent(stored, attempted)
    assert present == len(stored) == len(attempted)
    assert_consistent(scratch, present)
    print(  # noqa: T201 - the figures the issue asks for, shown with pytest -s
        f"\ndatabase unreachable ({'postgresql' if scratch.postgres else 'sqlite'}):"
        f" {len(seen.acknowledged)} households acknowledged before and during the outage,"
        f" {len(seen.unavailable) + 4} answers 503 (none 500), {seen.lost_connections} lost"
        f" connections; after it returned, the first request succeeded in {first_success:.2f} s"
        f" and every client at once in {all_recovered:.2f} s, without a restart;"
        f" retries: {retried['created']} registered, {retried['exists']}"
        f" already stored; {present} households, each whole"
    )


def test_postgresql_cut_off_mid_request_gives_503_and_recovers_without_restart(
    tmp_path: Path,
) -> None:
    with scratch_database(tmp_path) as scratch:
        if not scratch.postgres:
            pytest.skip(
                "a TCP link to cut needs PostgreSQL; on SQLite the test below moves the file"
            )
        token = prepare(scratch)
        target = urlsplit(scratch.database_url)
        proxy = Proxy((target.hostname or "127.0.0.1", target.port or 5432))
        proxy.restore()
        try:
            server = Server(
                scratch, database_url=with_address(scratch.database_url, "127.0.0.1", proxy.port)
            )
            with running(server):
                outage_is_answered_with_503_and_recovers(
                    scratch, server, token, Outage(cut=proxy.cut, restore=proxy.restore)
                )
        finally:
            proxy.close()


@contextlib.contextmanager
def _moved_back(var_dir: Path) -> Iterator[Outage]:
    away = var_dir.with_name(var_dir.name + ".away")

    def cut() -> None:
        var_dir.rename(away)

    def restore() -> None:
        # A directory made meanwhile (by anything) would hide the database: fail loudly instead.
        assert not var_dir.exists(), "something recreated the database directory while away"
        away.rename(var_dir)

    try:
        yield Outage(cut=cut, restore=restore)
    finally:
        if away.exists() and not var_dir.exists():
            away.rename(var_dir)
        elif away.exists():
            shutil.rmtree(away)


def test_sqlite_directory_gone_mid_request_gives_503_and_recovers_without_restart(
    tmp_path: Path,
) -> None:
    with scratch_database(tmp_path) as scratch:
        if scratch.postgres:
            pytest.skip("moving the database file away is the SQLite case; PostgreSQL's is above")
        token = prepare(scratch)
        server = Server(scratch)
        with running(server), _moved_back(scratch.var_dir) as outage:
            outage_is_answered_with_503_and_recovers(scratch, server, token, outage)
