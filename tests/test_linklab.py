"""The link impairment relay: its models on their own, then real packets through a link.

The link tests need the private namespace (``python -m kiosk.netns pytest``): an echo
server runs in the link's child namespace and this process probes it over the link.
"""

from __future__ import annotations

import asyncio
import random
import select
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests._linkmodel import (
    MAX_IN_FLIGHT,
    Impairment,
    ImpairmentError,
    LossModel,
    PathModel,
    RateShaper,
)
from tests._linkrelay import Direction
from tests.linklab import ImpairedLink

# --- the models, without namespaces -------------------------------------------------------


def loss_runs(lost: list[bool]) -> list[int]:
    """Lengths of the runs of consecutive losses."""
    runs, current = [], 0
    for flag in [*lost, False]:
        if flag:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs


def draw(imp: Impairment, count: int, seed: int = 1) -> list[bool]:
    model = LossModel(random.Random(seed))
    return [model.lost(imp) for _ in range(count)]


def test_impairment_rejects_out_of_bounds_values_by_name() -> None:
    with pytest.raises(ImpairmentError, match=r"impairment\.loss = 1\.5: must be within 0\.\.1"):
        Impairment(loss=1.5)
    with pytest.raises(ImpairmentError, match=r"impairment\.burst = 0\.5"):
        Impairment(loss=0.1, burst=0.5)
    with pytest.raises(ImpairmentError, match=r"impairment\.loss = 0\.6: with bursts"):
        Impairment(loss=0.6, burst=1)
    with pytest.raises(ImpairmentError, match=r"impairment\.delay_ms"):
        Impairment(delay_ms=-1)


def test_impairment_round_trips_and_rejects_unknown_keys() -> None:
    imp = Impairment(loss=0.1, burst=3, delay_ms=50, rate_kbps=256, cut=True)
    assert Impairment.from_dict(imp.to_dict()) == imp
    with pytest.raises(ImpairmentError, match="unknown impairment key.*'lost'"):
        Impairment.from_dict({"lost": 0.1})


def test_random_loss_is_independent_at_the_set_rate() -> None:
    lost = draw(Impairment(loss=0.2), 100_000)
    assert sum(lost) / len(lost) == pytest.approx(0.2, abs=0.005)
    assert statistics.mean(loss_runs(lost)) == pytest.approx(1.25, abs=0.03)  # 1 / (1 - p)
    assert not any(draw(Impairment(), 1000)) and all(draw(Impairment(loss=1.0), 1000))


def test_gilbert_loss_has_the_set_rate_and_mean_burst() -> None:
    lost = draw(Impairment(loss=0.1, burst=5), 200_000)
    assert sum(lost) / len(lost) == pytest.approx(0.1, abs=0.01)
    assert statistics.mean(loss_runs(lost)) == pytest.approx(5.0, rel=0.05)


def test_rate_shaper_paces_and_tail_drops() -> None:
    shaper, imp = RateShaper(), Impairment(rate_kbps=8, queue_ms=2500)  # 1000 B = 1 s
    departures = [shaper.departure(0.0, 1000, imp) for _ in range(4)]
    assert departures == [1.0, 2.0, 3.0, None]  # the 4th would wait 3 s > 2.5 s
    assert shaper.departure(10.0, 500, imp) == 10.5  # idle again: only its own send time
    assert RateShaper().departure(5.0, 1500, Impairment()) == 5.0  # no cap: no wait


def test_path_model_delays_jitters_and_keeps_order() -> None:
    model = PathModel(random.Random(3), Impairment(delay_ms=20, jitter_ms=30))
    dues = [model.admit(i * 0.001, 100, 0) for i in range(500)]
    delays = [due - i * 0.001 for i, due in enumerate(dues) if due is not None]
    assert min(delays) >= 0.020 and max(delays) <= 0.050 + 0.001
    assert dues == sorted(dues)  # type: ignore[type-var]
    model.impairment = Impairment(delay_ms=20, jitter_ms=30, reorder=True)
    dues = [model.admit(1 + i * 0.001, 100, 0) for i in range(500)]
    assert dues != sorted(dues)  # type: ignore[type-var]


def test_path_model_counts_cut_and_full_queue() -> None:
    model = PathModel(random.Random(0), Impairment(cut=True))
    assert model.admit(0.0, 100, 0) is None and model.counters.cut == 1
    model.impairment = Impairment()
    assert model.admit(0.0, 100, MAX_IN_FLIGHT) is None and model.counters.queue == 1
    assert model.admit(0.0, 100, 0) == 0.0


async def _relay_through(direction_imp: Impairment, count: int) -> list[tuple[bytes, float]]:
    """Datagrams through one Direction between two socket pairs (no namespace needed)."""
    send, src = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    dst, recv = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for sock in (src, dst, recv):
        sock.setblocking(False)
    model = PathModel(random.Random(0), direction_imp)
    direction = Direction(src.fileno(), dst.fileno(), model)
    loop, got = asyncio.get_running_loop(), list[tuple[bytes, float]]()
    start = loop.time()
    for i in range(count):
        send.send(b"%d" % i)
    while len(got) < count and loop.time() - start < 2.0:
        await asyncio.sleep(0.005)
        while True:
            try:
                got.append((recv.recv(100), loop.time() - start))
            except BlockingIOError:
                break
    direction.close()
    for sock in (send, src, dst, recv):
        sock.close()
    return got


async def test_direction_delays_in_order_on_socket_pairs() -> None:
    got = await _relay_through(Impairment(delay_ms=50, jitter_ms=20), 20)
    assert [data for data, _ in got] == [b"%d" % i for i in range(20)]
    assert all(0.049 <= at <= 0.2 for _, at in got)


# --- real packets through a link (inside the private namespace) ------------------------------

ECHO_PORT = 7007
ECHO_SERVER = f"""
import socket, threading
def echo(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
def accept(server):
    while True:
        threading.Thread(target=echo, args=(server.accept()[0],), daemon=True).start()
tcp = socket.create_server(("0.0.0.0", {ECHO_PORT}))
threading.Thread(target=accept, args=(tcp,), daemon=True).start()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
udp.bind(("0.0.0.0", {ECHO_PORT}))
while True:
    data, peer = udp.recvfrom(65536)
    udp.sendto(data, peer)
"""
FRAME_HEADERS = 14 + 20 + 8  # Ethernet, IPv4, UDP: a rate cap counts whole frames


@dataclass
class Probe:
    """UDP datagrams sent to the echo server and what came back when."""

    size: int = 64
    sent: dict[int, float] = field(default_factory=dict)
    back: dict[int, float] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)

    def loss(self) -> float:
        return 1 - len(self.back) / len(self.sent)

    def lost(self) -> list[bool]:
        return [seq not in self.back for seq in sorted(self.sent)]

    def rtts_ms(self, seqs: range | None = None) -> list[float]:
        chosen = self.back if seqs is None else [s for s in seqs if s in self.back]
        return sorted((self.back[s] - self.sent[s]) * 1000 for s in chosen)

    def received_kbps(self) -> float:
        times = sorted(self.back.values())
        return (len(times) - 1) * (self.size + FRAME_HEADERS) * 8 / (times[-1] - times[0]) / 1000


def _collect(sock: socket.socket, probe: Probe, until: float, count: int) -> None:
    while (remaining := until - time.monotonic()) > 0 and len(probe.back) < count:
        if not select.select([sock], [], [], remaining)[0]:
            return
        while True:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, ConnectionRefusedError):  # refused: echo not up yet
                break
            seq = struct.unpack_from("!I", data)[0]
            probe.back.setdefault(seq, time.monotonic())
            probe.order.append(seq)


def exchange(
    host: str,
    count: int,
    interval: float,
    size: int = 64,
    linger: float = 1.0,
    actions: dict[int, Callable[[], None]] | None = None,
) -> Probe:
    """Send *count* datagrams every *interval* s to the echo server; collect the echoes."""
    probe, actions = Probe(size), actions or {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.connect((host, ECHO_PORT))
        sock.setblocking(False)
        start = time.monotonic()
        for seq in range(count):
            _collect(sock, probe, start + seq * interval, count)
            actions.get(seq, lambda: None)()
            probe.sent[seq] = time.monotonic()  # before: a preemption must not shorten RTTs
            sock.send(struct.pack("!I", seq).ljust(size, b"."))
        _collect(sock, probe, time.monotonic() + linger, count)
    return probe


def _wait_for_echo(host: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if exchange(host, 1, 0.0, linger=0.3).back:
            return
    raise AssertionError(f"no echo from {host} within {timeout} s")


@pytest.fixture(scope="module")
def inside_netns() -> None:
    from kiosk import netns

    if not netns.inside():
        pytest.fail("link tests must run inside the private network namespace (see README)")


@pytest.fixture(scope="module")
def lab(inside_netns: None) -> Iterator[ImpairedLink]:
    with ImpairedLink(1, seed=7) as link:
        link.popen([sys.executable, "-c", ECHO_SERVER])
        _wait_for_echo(link.far)
        yield link


@pytest.fixture
def link(lab: ImpairedLink) -> ImpairedLink:
    lab.set(Impairment(), Impairment())
    return lab


def test_clean_link_passes_everything_and_counts_it(link: ImpairedLink) -> None:
    before = link.counters()
    probe = exchange(link.far, 300, 0.002)
    after = link.counters()
    assert probe.loss() == 0.0
    assert statistics.median(probe.rtts_ms()) < 20
    for way in ("up", "down"):  # our 300 datagrams, and perhaps an ARP or IPv6 frame
        change = {key: after[way][key] - before[way][key] for key in after[way]}
        assert 300 <= change["forwarded"] <= 310
        assert change["loss"] == change["queue"] == change["error"] == change["cut"] == 0


def test_random_loss_on_real_packets(link: ImpairedLink) -> None:
    link.set(down=Impairment(loss=0.2))
    before = link.counters()["down"]["loss"]
    probe = exchange(link.far, 2000, 0.001)
    assert 0.15 <= probe.loss() <= 0.25
    lost_by_link = link.counters()["down"]["loss"] - before
    assert lost_by_link == pytest.approx(len(probe.sent) - len(probe.back), abs=5)
    assert statistics.mean(loss_runs(probe.lost())) < 1.5


def test_bursty_loss_on_real_packets(link: ImpairedLink) -> None:
    link.set(up=Impairment(loss=0.2, burst=4))
    probe = exchange(link.far, 2000, 0.001)
    mean_burst = statistics.mean(loss_runs(probe.lost()))
    assert 0.12 <= probe.loss() <= 0.28
    assert 2.5 <= mean_burst <= 6.0, f"mean burst {mean_burst:.2f} packets"


def test_delay_adds_twice_to_the_round_trip(link: ImpairedLink) -> None:
    link.set(Impairment(delay_ms=40), Impairment(delay_ms=40))
    rtts = exchange(link.far, 100, 0.01).rtts_ms()
    # never early (but for 0.5 ms of timer slack); late by ~1 ms a direction when idle,
    # more by the scheduling delays of a loaded machine
    assert min(rtts) >= 79 and statistics.median(rtts) <= 80 + 40, f"RTTs {rtts}"


def test_jitter_spreads_delay_and_keeps_order_unless_asked(link: ImpairedLink) -> None:
    link.set(down=Impairment(delay_ms=20, jitter_ms=20))
    probe = exchange(link.far, 200, 0.005)
    rtts = probe.rtts_ms()
    assert min(rtts) >= 19 and rtts[len(rtts) * 9 // 10] - rtts[len(rtts) // 10] > 8
    assert probe.order == sorted(probe.order)
    link.set(down=Impairment(delay_ms=20, jitter_ms=20, reorder=True))
    assert exchange(link.far, 200, 0.005).order != list(range(200))


def test_rate_cap_limits_throughput_with_a_bounded_queue(link: ImpairedLink) -> None:
    link.set(down=Impairment(rate_kbps=256))
    before = link.counters()["down"]["queue"]
    probe = exchange(link.far, 250, 0.008, size=1000)  # 1 Mbit/s for 2 s
    kbps = probe.received_kbps()
    assert 256 * 0.8 <= kbps <= 256 * 1.2, f"received {kbps:.0f} kbit/s"
    assert link.counters()["down"]["queue"] - before > 100  # tail drops, not a growing queue
    rtts = probe.rtts_ms()  # a full 200 ms queue + 32 ms to send one; unbounded: seconds
    assert statistics.median(rtts) < 200 + 32 + 50 and max(rtts) < 1000


def _tcp_echo_arrives(conn: socket.socket, data: bytes, timeout: float) -> bool:
    conn.sendall(data)
    conn.settimeout(timeout)
    try:
        return conn.recv(100) == data
    except TimeoutError:
        return False


def test_cut_stops_udp_and_tcp_and_restore_resumes_them(link: ImpairedLink) -> None:
    with socket.create_connection((link.far, ECHO_PORT), timeout=10) as conn:
        assert _tcp_echo_arrives(conn, b"before", 10)
        link.cut()
        before = link.counters()
        assert not exchange(link.far, 50, 0.005, linger=0.5).back
        assert link.counters()["down"]["cut"] - before["down"]["cut"] >= 50
        assert not _tcp_echo_arrives(conn, b"during", 1.0)
        link.restore()
        conn.settimeout(20)
        assert conn.recv(100) == b"during"  # retransmitted once the link is back
    assert exchange(link.far, 50, 0.005).loss() == 0.0


def test_settings_change_live_mid_stream(link: ImpairedLink) -> None:
    spent: list[float] = []

    def slow_down() -> None:
        start = time.monotonic()
        link.set(down=Impairment(delay_ms=100))
        spent.append(time.monotonic() - start)

    probe = exchange(link.far, 120, 0.015, actions={60: slow_down})
    before, after = probe.rtts_ms(range(60)), probe.rtts_ms(range(60, 120))
    assert statistics.median(before) < 20
    assert min(after) >= 99 and statistics.median(after) <= 100 + 50, f"RTTs {after}"
    assert spent[0] < 0.1 and probe.loss() == 0.0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_second_link_is_separate_and_stop_leaves_nothing(lab: ImpairedLink) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("198.18.0.1", 0))
        server.settimeout(10)
        with ImpairedLink(2) as second:
            script = (
                "import socket, sys; s = socket.socket(2, 2); s.settimeout(1)\n"
                f"s.sendto(b'hello', ('198.18.0.1', {server.getsockname()[1]}))\n"
                f"s.sendto(b'x', ('{lab.far}', {ECHO_PORT}))\n"
                "try: s.recv(10); print('reached link 1')\n"
                "except TimeoutError: print('isolated')\n"
            )
            client = second.popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
            data, peer = server.recvfrom(100)
            assert (data, peer[0]) == (b"hello", second.far)
            assert client.communicate(timeout=10)[0].strip() == b"isolated"
            sleeper = second.popen(["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE)
            orphan = int(sleeper.stdout.readline())  # type: ignore[union-attr]
            relay = second.pid
        assert sleeper.poll() is not None and not _alive(orphan) and not _alive(relay)
    with pytest.raises(OSError):
        socket.if_nametoindex("dcl2n")
    assert socket.if_nametoindex("dcl1n")  # the first link is still there


def test_a_link_made_again_is_reachable_at_once(inside_netns: None) -> None:
    """Same index, same address and MAC: this side's ARP cache stays right."""
    for _ in range(2):
        link = ImpairedLink(3).start()
        link.popen([sys.executable, "-c", ECHO_SERVER])
        _wait_for_echo(link.far, timeout=10)
        link.stop()
        link.stop()  # idempotent
