"""Partial-sync transactions over our own nf_tables netlink socket (nft_compile.py, nft_netlink.py).

Pure: which lines compile (and everything else is left to ``nft -f``), the key encoding.
Real kernel (root, nft; run under /tmp/kyb-e2e.lock): the same transaction applied with ``nft -f``
to one table and over netlink to another lists identically; a refused batch commits nothing and
falls back to ``nft -f``, whose error is the one raised.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from kybernetes.proxy.nft_compile import compile_lines
from kybernetes.proxy.nft_netlink import NetlinkError, attr
from kybernetes.proxy.nft_table import FAMILY
from kybernetes.proxy.nft_tool import Nft, NftError, find_nft
from tests.proxy.netlab import is_root

T = "ip kyb-t"


def test_attributes_are_padded_to_four_bytes():
    assert attr(3, b"ab") == b"\x06\x00\x03\x00ab\x00\x00"
    assert attr(1, b"abcd") == b"\x08\x00\x01\x00abcd"


def test_partial_sync_statements_compile():
    lines = [f"delete element {T} endpoint-hairpin {{ 10.42.1.8 . 10.42.1.8 }}",
             f"flush chain {T} service-AB-x/y/tcp/http",
             f"add chain {T} external-AB-x/y/tcp/http",
             f"add rule {T} service-AB-x/y/tcp/http ip daddr 10.43.0.8 tcp dport 80 ip saddr != 10.42.0.0/13 "
             "jump mark-for-masquerade",
             f"add rule {T} service-AB-x/y/tcp/http meta l4proto udp numgen random mod 2 0 dnat to 10.42.0.8:53",
             f"add rule {T} external-AB-x/y/tcp/http fib saddr type local goto service-AB-x/y/tcp/http",
             f"add element {T} service-ips {{ 10.43.0.8 . tcp . 80 : goto service-AB-x/y/tcp/http, "
             "10.43.0.9 . sctp . 9 : drop }",
             f"add element {T} no-endpoint-nodeports {{ tcp . 30080 : goto reject-chain }}",
             f"delete chain {T} firewall-AB-x/y/tcp/http"]
    messages = compile_lines(lines)
    assert messages is not None and [m.label for m in messages] == lines
    # the key of 10.43.0.8 . tcp . 80: address, protocol and port each in a 4-byte register
    assert bytes([10, 43, 0, 8, 6, 0, 0, 0, 0, 80, 0, 0]) in messages[6].attrs


@pytest.mark.parametrize("line", [
    f"add table {T}",
    f"add chain {T} nat-output {{ type nat hook output priority -100 ; }}",
    f"add set {T} affinity-AB-x {{ type ipv4_addr ; flags dynamic,timeout ; timeout 10s ; }}",
    f"add rule {T} service-AB ip saddr @affinity-AB-x goto endpoint-AB",
    f"add rule {T} endpoint-AB update @affinity-AB-x {{ ip saddr }}",
    f"add rule {T} firewall-AB ip saddr 0.0.0.0/0 return",
    f"add rule {T} services ip daddr . meta l4proto . th dport vmap @service-ips",
    f"add element {T} service-ips {{ 10.43.0.8 . tcp : goto x }}",
    f"add rule {T} x meta l4proto tcp dnat to 10.0.0.1:99999",
    "flush ruleset",
])
def test_anything_else_is_left_to_nft(line: str):
    assert compile_lines([f"flush chain {T} x", line]) is None


class FailingSocket:
    def __init__(self, error: NetlinkError):
        self.error = error
        self.batches = 0

    def commit(self, messages) -> None:
        self.batches += 1
        raise self.error

    def close(self) -> None:
        pass


async def test_a_refused_batch_falls_back_to_nft_and_an_unknown_outcome_fails_the_sync(tmp_path):
    fake_nft = tmp_path / "nft"
    fake_nft.write_text(f"#!/bin/sh\ncat > {tmp_path}/input\n")
    fake_nft.chmod(0o755)
    lines = [f"flush chain {T} x", f"add rule {T} x drop"]
    nft = Nft(str(fake_nft))
    nft._socket = FailingSocket(NetlinkError("refused", 2))
    await nft.apply(lines)  # the kernel said no: nothing committed, so nft -f gets the same lines
    assert (tmp_path / "input").read_text() == "\n".join(lines) + "\n" and nft.netlink_transactions == 0
    (tmp_path / "input").unlink()
    nft._socket = FailingSocket(NetlinkError("answers lost", uncertain=True))
    with pytest.raises(NftError, match="outcome unknown"):
        await nft.apply(lines)
    assert not (tmp_path / "input").exists() and nft._socket is None  # not retried blindly


# -- against the kernel ------------------------------------------------------------------------------

needs_kernel = pytest.mark.skipif(not is_root() or find_nft() is None, reason="needs root and nft (nftables)")

SCAFFOLD = """add table {t}
add chain {t} mark-for-masquerade
add chain {t} reject-chain
add rule {t} reject-chain reject
add map {t} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}
add map {t} service-nodeports {{ type inet_proto . inet_service : verdict ; }}
add set {t} endpoint-hairpin {{ type ipv4_addr . ipv4_addr ; }}
add chain {t} nat-prerouting {{ type nat hook prerouting priority -100 ; }}
add rule {t} nat-prerouting ip daddr . meta l4proto . th dport vmap @service-ips
add chain {t} service-A-ns/a/tcp/http
add chain {t} old-A
add rule {t} old-A jump mark-for-masquerade
add element {t} endpoint-hairpin {{ 10.42.9.9 . 10.42.9.9 }}
"""
SVC, EXT, FW = "service-A-ns/a/tcp/http", "external-A-ns/a/tcp/http", "firewall-A-ns/a/tcp/http"
CHANGE = [
    "delete element {t} endpoint-hairpin {{ 10.42.9.9 . 10.42.9.9 }}",
    "flush chain {t} old-A",
    "delete chain {t} old-A",
    f"flush chain {{t}} {SVC}",
    f"add chain {{t}} {EXT}",
    f"add chain {{t}} {FW}",
    f"add rule {{t}} {SVC} ip daddr 10.43.0.8 tcp dport 80 ip saddr != 10.42.0.0/13 jump mark-for-masquerade",
    f"add rule {{t}} {SVC} ip daddr 10.43.0.8 udp dport 53 jump mark-for-masquerade",
    f"add rule {{t}} {SVC} meta l4proto tcp numgen random mod 3 0 dnat to 10.42.0.8:8080",
    f"add rule {{t}} {SVC} meta l4proto sctp numgen random mod 2 0 dnat to 10.42.0.9:9",
    f"add rule {{t}} {SVC} meta l4proto tcp dnat to 10.42.1.8:8080",
    f"add rule {{t}} {EXT} ip saddr 10.42.0.0/16 goto {SVC}",
    f"add rule {{t}} {EXT} fib saddr type local jump mark-for-masquerade",
    f"add rule {{t}} {EXT} fib saddr type local goto {SVC}",
    f"add rule {{t}} {EXT} jump mark-for-masquerade",
    f"add rule {{t}} {EXT} goto {SVC}",
    f"add rule {{t}} {FW} ip saddr 192.168.7.0/24 return",
    f"add rule {{t}} {FW} ip saddr 192.168.8.1 return",
    f"add rule {{t}} {FW} ip saddr 172.16.0.0/12 return",
    f"add rule {{t}} {FW} drop",
    f"add element {{t}} service-ips {{{{ 10.43.0.8 . tcp . 80 : goto {SVC}, 10.43.0.9 . udp . 53 : drop }}}}",
    f"add element {{t}} service-nodeports {{{{ tcp . 30080 : goto {EXT}, udp . 30053 : goto reject-chain }}}}",
    "add element {t} endpoint-hairpin {{ 10.42.0.8 . 10.42.0.8, 10.42.1.8 . 10.42.1.8 }}",
]


def nft_run(text: str) -> None:
    subprocess.run(["nft", "-f", "-"], input=text.encode(), check=True, capture_output=True)


def listing(table: str) -> str:
    text = subprocess.run(["nft", "list", "table", FAMILY, table], capture_output=True, text=True, check=True).stdout
    return text.replace(table, "TABLE")


def bytecode(table: str) -> list[str]:
    """The table's expressions as the kernel holds them (sorted lines: set elements come in hash order)."""
    text = subprocess.run(["nft", "--debug=netlink", "list", "table", FAMILY, table],
                          capture_output=True, text=True, check=True).stdout
    return sorted(text.replace(table, "TABLE").splitlines())


@pytest.fixture
def tables():
    names = [f"kyb-nl-{secrets.token_hex(3)}" for _ in range(2)]
    try:
        for name in names:
            nft_run(SCAFFOLD.format(t=f"{FAMILY} {name}"))
        yield names
    finally:
        for name in names:
            subprocess.run(["nft", "delete", "table", FAMILY, name], capture_output=True)


@needs_kernel
async def test_netlink_transaction_lists_like_the_same_nft_transaction(tables: list[str]):
    by_nft, by_netlink = tables
    nft_run("\n".join(line.format(t=f"{FAMILY} {by_nft}") for line in CHANGE) + "\n")
    nft = Nft()
    await nft.apply([line.format(t=f"{FAMILY} {by_netlink}") for line in CHANGE])
    assert nft.netlink_transactions == 1
    expected = listing(by_nft)
    assert "10.40.0.0/13" in expected and "numgen random mod 3" in expected  # (the change did land)
    assert listing(by_netlink) == expected
    assert bytecode(by_netlink) == bytecode(by_nft)
    nft.close()


@needs_kernel
async def test_a_refused_batch_commits_nothing_and_nft_reports_the_error(tables: list[str]):
    table = tables[0]
    t = f"{FAMILY} {table}"
    before = listing(table)
    nft = Nft()
    change = [f"add element {t} endpoint-hairpin {{ 10.42.5.5 . 10.42.5.5 }}",
              f"add rule {t} {SVC} meta l4proto tcp dnat to 10.42.0.8:8080",
              f"delete element {t} endpoint-hairpin {{ 10.42.7.7 . 10.42.7.7 }}"]  # not there: refused
    with pytest.raises(NftError, match="nft -f failed"):
        await nft.apply(change)
    assert nft.netlink_transactions == 0 and nft.transactions == 1
    assert listing(table) == before
    await nft.apply(change[:2])  # the socket still works after a refusal
    assert nft.netlink_transactions == 1 and "10.42.5.5" in listing(table)
    nft.close()
