"""Our own ``nft -f`` lines turned into nf_tables netlink messages, for the statements partial syncs use.

nft_rules.py / nft_table.py stay the one description of the table (text, as ``nft -f`` reads it).
A partial sync's transaction is compiled here into the messages nft 1.0.6 itself would send for
it (checked against ``nft --debug=netlink``, and by a test comparing the listed tables), and sent
by nft_netlink.py. Only a closed subset is understood:

    add chain T C | flush chain T C | delete chain T C       (not base chains, not sets)
    add element / delete element T MAP { ... }               (the maps and set of nft_table.py)
    add rule T C  <matches> <action>
        matches: ip saddr|daddr [!=] ADDR[/LEN]   tcp|udp|sctp dport N   meta l4proto P
                 numgen random mod N V           fib saddr type local
        action:  dnat to IP:PORT | jump C | goto C | return | drop | accept

Anything else (affinity sets, base chains, a whole table...) returns None and the caller runs
``nft -f`` as before, so nothing here can narrow what the proxy may write.
"""

from __future__ import annotations

import ipaddress
import struct

from kybernetes.proxy import nft_netlink as nl
from kybernetes.proxy.nft_netlink import Message, attr, be32, nested, string
from kybernetes.proxy.nft_rules import HAIRPIN
from kybernetes.proxy.nft_table import FAMILY, MAP_TYPES

# enum nft_*_attributes and friends (include/uapi/linux/netfilter/nf_tables.h)
NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME = 1, 3
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS = 1, 2, 4
NFTA_LIST_ELEM, NFTA_EXPR_NAME, NFTA_EXPR_DATA = 1, 1, 2
NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_ELEMENTS = 1, 2, 3
NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_DATA = 1, 2
NFTA_DATA_VALUE, NFTA_DATA_VERDICT, NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN = 1, 2, 1, 2
VERDICTS = {"accept": 1, "drop": 0, "jump": -3, "goto": -4, "return": -5}
REG_VERDICT, REG_1, REG_2 = 0, 1, 2
PAYLOAD_NETWORK, PAYLOAD_TRANSPORT = 1, 2
CMP_EQ, CMP_NEQ = 0, 1
META_L4PROTO = 16
NG_RANDOM = 1
NAT_DNAT, NAT_RANGE_PROTO_SPECIFIED = 1, 2
FIB_RESULT_ADDRTYPE, FIB_F_SADDR, RTN_LOCAL = 3, 1, 2
PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132}
SET_TYPES = {**MAP_TYPES, HAIRPIN: "ipv4_addr . ipv4_addr"}
MAX_LINES = 2000  # larger transactions (full syncs, big bursts) go through nft -f


class Unsupported(Exception):
    """A line outside the subset: the whole transaction goes through ``nft -f``."""


def compile_lines(lines: list[str]) -> list[Message] | None:
    """The messages for ``lines`` (all against one ``ip`` table), or None when any is outside the subset."""
    if not lines or len(lines) > MAX_LINES:
        return None
    try:
        table = lines[0].split()[3]
        return [_line(line, table) for line in lines]
    except (Unsupported, ValueError, KeyError, IndexError):
        return None


def _line(line: str, table: str) -> Message:
    words = line.split()
    if len(words) < 5 or words[2] != FAMILY or words[3] != table:
        raise Unsupported(line)
    verb, obj, name = words[0], words[1], words[4]
    if obj == "chain" and len(words) == 5:
        kind = {"add": nl.NFT_MSG_NEWCHAIN, "delete": nl.NFT_MSG_DELCHAIN, "flush": nl.NFT_MSG_DELRULE}[verb]
        if kind == nl.NFT_MSG_DELRULE:  # flush: delete every rule of the chain
            return Message(kind, string(NFTA_RULE_TABLE, table) + string(NFTA_RULE_CHAIN, name), label=line)
        flags = nl.NLM_F_CREATE if kind == nl.NFT_MSG_NEWCHAIN else 0
        return Message(kind, string(NFTA_CHAIN_TABLE, table) + string(NFTA_CHAIN_NAME, name), flags, label=line)
    if obj == "element" and verb in ("add", "delete"):
        return _elements(verb, table, name, line)
    if obj == "rule" and verb == "add" and len(words) > 5:
        exprs = b"".join(nested(NFTA_LIST_ELEM, e) for e in _rule(words[5:]))
        body = string(NFTA_RULE_TABLE, table) + string(NFTA_RULE_CHAIN, name) + nested(NFTA_RULE_EXPRESSIONS, exprs)
        return Message(nl.NFT_MSG_NEWRULE, body, nl.NLM_F_CREATE | nl.NLM_F_APPEND, label=line)
    raise Unsupported(line)


# -- set elements ----------------------------------------------------------------------------------

def _elements(verb: str, table: str, set_name: str, line: str) -> Message:
    key_types, _, data_type = SET_TYPES[set_name].partition(" : ")
    types = key_types.split(" . ")
    start, end = line.index("{"), line.rindex("}")
    items = []
    for item in line[start + 1:end].split(","):
        key_text, _, value = item.partition(":")
        parts = key_text.split(" . ")
        if len(parts) != len(types):
            raise Unsupported(line)
        key = nested(NFTA_SET_ELEM_KEY, attr(NFTA_DATA_VALUE, b"".join(_key_part(t, p.strip())
                                                                       for t, p in zip(types, parts, strict=True))))
        data = b""
        if verb == "add" and data_type:
            data = nested(NFTA_SET_ELEM_DATA, _verdict(value.split()))
        elif value.strip() and verb == "add":
            raise Unsupported(line)
        items.append(nested(NFTA_LIST_ELEM, key + data))
    body = (string(NFTA_SET_ELEM_LIST_TABLE, table) + string(NFTA_SET_ELEM_LIST_SET, set_name)
            + nested(NFTA_SET_ELEM_LIST_ELEMENTS, *items))
    kind, flags = (nl.NFT_MSG_NEWSETELEM, nl.NLM_F_CREATE) if verb == "add" else (nl.NFT_MSG_DELSETELEM, 0)
    return Message(kind, body, flags, label=line)


def _key_part(kind: str, text: str) -> bytes:
    """One field of a concatenated key, padded to 4 bytes as the kernel's registers are."""
    if kind == "ipv4_addr":
        return ipaddress.IPv4Address(text).packed
    if kind == "inet_proto":
        return bytes([PROTOCOLS[text]]) + b"\0\0\0"
    if kind == "inet_service":
        return struct.pack(">H", _port(text)) + b"\0\0"
    raise Unsupported(kind)


def _verdict(words: list[str]) -> bytes:
    code = VERDICTS[words[0]]
    if (words[0] in ("jump", "goto")) != (len(words) == 2) or len(words) > 2:
        raise Unsupported(" ".join(words))
    chain = string(NFTA_VERDICT_CHAIN, words[1]) if len(words) == 2 else b""
    return nested(NFTA_DATA_VERDICT, be32(NFTA_VERDICT_CODE, code) + chain)


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(text)
    return port


# -- rules -----------------------------------------------------------------------------------------

def _expr(name: str, *attrs: bytes) -> bytes:
    return string(NFTA_EXPR_NAME, name) + nested(NFTA_EXPR_DATA, *attrs)


def _payload(base: int, offset: int, length: int) -> bytes:
    return _expr("payload", be32(1, REG_1), be32(2, base), be32(3, offset), be32(4, length))


def _cmp(op: int, data: bytes) -> bytes:
    return _expr("cmp", be32(1, REG_1), be32(2, op), nested(3, attr(NFTA_DATA_VALUE, data)))


def _immediate(reg: int, data: bytes) -> bytes:
    return _expr("immediate", be32(1, reg), nested(2, data))


def _address(offset: int, op: int, text: str) -> list[bytes]:
    """``ip saddr|daddr [!=] A[/len]`` as nft emits it: whole bytes compared directly, else masked."""
    net = ipaddress.IPv4Network(text, strict=False)  # nft masks host bits too
    if net.prefixlen == 0:
        raise Unsupported(text)
    if net.prefixlen % 8 == 0:
        size = net.prefixlen // 8
        return [_payload(PAYLOAD_NETWORK, offset, size), _cmp(op, net.network_address.packed[:size])]
    mask = net.netmask.packed
    bitwise = _expr("bitwise", be32(1, REG_1), be32(2, REG_1), be32(3, 4),
                    nested(4, attr(NFTA_DATA_VALUE, mask)), nested(5, attr(NFTA_DATA_VALUE, b"\0" * 4)))
    return [_payload(PAYLOAD_NETWORK, offset, 4), bitwise, _cmp(op, net.network_address.packed)]


def _l4proto(name: str) -> list[bytes]:
    return [_expr("meta", be32(1, REG_1), be32(2, META_L4PROTO)), _cmp(CMP_EQ, bytes([PROTOCOLS[name]]))]


def _rule(words: list[str]) -> list[bytes]:
    out: list[bytes] = []
    i = 0
    while i < len(words):
        w = words[i]
        rest = len(words) - i
        if w == "ip" and rest >= 3 and words[i + 1] in ("saddr", "daddr"):
            offset = 12 if words[i + 1] == "saddr" else 16
            negate = words[i + 2] == "!="
            out += _address(offset, CMP_NEQ if negate else CMP_EQ, words[i + 2 + negate])
            i += 3 + negate
        elif w in PROTOCOLS and rest >= 3 and words[i + 1] == "dport":
            out += _l4proto(w)
            out += [_payload(PAYLOAD_TRANSPORT, 2, 2), _cmp(CMP_EQ, struct.pack(">H", _port(words[i + 2])))]
            i += 3
        elif w == "meta" and rest >= 3 and words[i + 1] == "l4proto":
            out += _l4proto(words[i + 2])
            i += 3
        elif w == "numgen" and rest >= 5 and words[i + 1:i + 3] == ["random", "mod"]:
            modulus, value = int(words[i + 3]), int(words[i + 4])
            if not 0 <= value < modulus:
                raise Unsupported(" ".join(words))
            out += [_expr("numgen", be32(1, REG_1), be32(2, modulus), be32(3, NG_RANDOM)),
                    _cmp(CMP_EQ, struct.pack("=I", value))]
            i += 5
        elif words[i:i + 4] == ["fib", "saddr", "type", "local"]:
            out += [_expr("fib", be32(1, REG_1), be32(2, FIB_RESULT_ADDRTYPE), be32(3, FIB_F_SADDR)),
                    _cmp(CMP_EQ, struct.pack("=I", RTN_LOCAL))]
            i += 4
        elif w == "dnat" and rest == 3 and words[i + 1] == "to":
            host, _, port = words[i + 2].rpartition(":")
            out += [_immediate(REG_1, attr(NFTA_DATA_VALUE, ipaddress.IPv4Address(host).packed)),
                    _immediate(REG_2, attr(NFTA_DATA_VALUE, struct.pack(">H", _port(port)))),
                    _expr("nat", be32(1, NAT_DNAT), be32(2, nl.NFPROTO_IPV4), be32(3, REG_1), be32(5, REG_2),
                          be32(7, NAT_RANGE_PROTO_SPECIFIED))]
            i += 3
        elif w in VERDICTS and rest == (2 if w in ("jump", "goto") else 1):
            out.append(_immediate(REG_VERDICT, _verdict(words[i:])))
            i += rest
        else:
            raise Unsupported(" ".join(words))
    return out
