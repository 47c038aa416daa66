#!/usr/bin/env python3
"""Regenerate the golden DNS packets in this directory.

Starts Knot DNS (knotd) on 127.0.0.1 with a free port, serving a few small zones (one signed with
NSEC, one with NSEC3, one unsigned reverse zone), sends it queries built with dnspython, and stores:

  NAME.bin  the exact bytes (a query dnspython built, or the response Knot sent)
  NAME.txt  the same message rendered by dnspython in the layout of DNSMessage.description

The .txt files come from dnspython, not from Palisade, so the golden test checks the Swift decoder
and presentation printer against an independent implementation.

Needs: knot (Debian package `knot`, for knotd and keymgr) and dnspython (`pip install dnspython`).
Usage: python3 generate.py            (writes into the directory holding this script)
Signatures and keys change on every run; everything else is deterministic.
"""

import binascii
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype

OUT = os.path.dirname(os.path.abspath(__file__))

ZONE_ORG = r"""
$ORIGIN example.org.
$TTL 3600
@           SOA   ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300
@           NS    ns1
@           NS    ns2.example.net.
ns1         A     192.0.2.53
ns1         AAAA  2001:db8::53
@           A     192.0.2.1
@           AAAA  2001:db8::1
www         A     192.0.2.10
www         A     192.0.2.11
www         AAAA  2001:db8:0:1::10
alias       CNAME www
chain       CNAME alias
@           MX    10 mail
@           MX    20 mail2.example.net.
mail        A     192.0.2.25
@           TXT   "v=spf1 -all"
txt         TXT   "first string" "second \"quoted\" string" "semi;colon" "\001\255 end"
_sip._udp   SRV   10 60 5060 sip
sip         A     192.0.2.60
@           NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp.example.org.
naptr       NAPTR 100 50 "a" "z3950+N2L+N2C" "!^urn:cid:.+@([^\\.]+\\.)(.*)$!\\2!i" .
@           CAA   0 issue "ca.example.net"
@           CAA   0 iodef "mailto:security@example.org"
@           CAA   128 tbs "Unknown"
svc         SVCB  1 svc1.example.org. mandatory=alpn,port alpn=h2,h3 port=8443 ipv4hint=192.0.2.7,192.0.2.8 ipv6hint=2001:db8::7
svcalias    SVCB  0 svc.example.org.
@           HTTPS 1 . alpn=h2 no-default-alpn ech=AEX+DQBBpQAgACBhAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHwAEAAEAAQASY2xvdWRmbGFyZS1lY2guY29tAAA= key667=hello
_443._tcp.www TLSA 3 1 1 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
www         SSHFP 4 2 a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90
host        HINFO "PC-Intel-700mhz" "NetBSD 1.4"
sub         NS    ns.sub
ns.sub      A     192.0.2.99
sub         DS    12345 13 2 2bb183af5f22588179a53b0a98631fad1a292118c1f12a3d4e6b0c4d8f9e0a1b
dname       DNAME example.net.
unknown     TYPE65280 \# 4 0a000001
Mixed.Case  A     192.0.2.77
esc\.aped   A     192.0.2.78
big         TXT   "{b1}"
big         TXT   "{b2}"
big         TXT   "{b3}"
""".replace("{b1}", "a" * 250).replace("{b2}", "b" * 250).replace("{b3}", "c" * 250)

ZONE_NET = r"""
$ORIGIN example.net.
$TTL 300
@       SOA   ns1.example.net. hostmaster.example.net. 7 3600 900 604800 60
@       NS    ns1
ns1     A     192.0.2.153
@       A     192.0.2.100
@       MX    5 mail2
mail2   A     192.0.2.125
deep.a.b.c A  192.0.2.101
"""

ZONE_REV = r"""
$ORIGIN 2.0.192.in-addr.arpa.
$TTL 86400
@       SOA   ns1.example.org. hostmaster.example.org. 1 3600 900 604800 60
@       NS    ns1.example.org.
10      PTR   www.example.org.
11      PTR   www.example.org.
"""

KNOT_CONF = """
server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    nsid: "palisade-fixture"
    edns-client-subnet: on
    identity: "palisade-fixture"
    version: "fixture"
log:
  - target: stderr
    any: warning
database:
    storage: "{d}"
    kasp-db: "{d}/kasp"
policy:
  - id: nsec
    algorithm: ecdsap256sha256
    nsec3: off
  - id: nsec3
    algorithm: ecdsap256sha256
    nsec3: on
    nsec3-iterations: 0
    nsec3-salt-length: 8
template:
  - id: default
    storage: "{d}"
    file: "%s.zone"
    global-module: mod-cookies
zone:
  - domain: example.org
    dnssec-signing: on
    dnssec-policy: nsec
  - domain: example.net
    dnssec-signing: on
    dnssec-policy: nsec3
  - domain: 2.0.192.in-addr.arpa
"""


def free_port():
    """A port nobody listens on right now (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(port, wire, tcp=False, timeout=2.0, tries=3):
    """Send one query and return the raw response bytes."""
    for attempt in range(tries):
        try:
            if tcp:
                with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
                    s.sendall(len(wire).to_bytes(2, "big") + wire)
                    head = b""
                    while len(head) < 2:
                        chunk = s.recv(2 - len(head))
                        if not chunk:
                            raise OSError("closed")
                        head += chunk
                    n = int.from_bytes(head, "big")
                    body = b""
                    while len(body) < n:
                        chunk = s.recv(n - len(body))
                        if not chunk:
                            raise OSError("closed")
                        body += chunk
                    return body
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.sendto(wire, ("127.0.0.1", port))
                data, _ = s.recvfrom(65535)
                return data
        except (OSError, socket.timeout):
            if attempt == tries - 1:
                raise
    raise RuntimeError("unreachable")


# ---- rendering in the layout of DNSMessage.description -------------------------------------------

STYLE = dns.rdata.RdataStyle(base64_chunk_size=0, hex_chunk_size=0)
FLAG_ORDER = [("qr", dns.flags.QR), ("aa", dns.flags.AA), ("tc", dns.flags.TC), ("rd", dns.flags.RD),
              ("ra", dns.flags.RA), ("ad", dns.flags.AD), ("cd", dns.flags.CD)]
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
          7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 16: "BADVERS", 23: "BADCOOKIE"}
OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
OPTION_NAMES = {3: "NSID", 8: "ECS", 10: "COOKIE", 11: "TCP-KEEPALIVE", 12: "PADDING", 15: "EDE"}


def hexs(b):
    return "" if len(b) == 0 else " " + binascii.hexlify(b).decode()


def option_line(opt):
    code = int(opt.otype)
    if isinstance(opt, dns.edns.ECSOption):
        return f"ECS: {opt.address}/{opt.srclen}/{opt.scopelen}"
    if isinstance(opt, dns.edns.CookieOption):
        return f"COOKIE:{hexs(opt.client)}{hexs(opt.server)}"
    if isinstance(opt, dns.edns.EDEOption):
        return f"EDE: {int(opt.code)} ({opt.text or ''})"
    data = opt.to_wire()
    if code == 11:
        return "TCP-KEEPALIVE:" + (f" {int.from_bytes(data, 'big')}" if data else "")
    if code == 12:
        return f"PADDING: {len(data)} octets"
    return f"{OPTION_NAMES.get(code, f'OPT{code}')}:{hexs(data)}"


def rr_type_text(t):
    return dns.rdatatype.to_text(t)


def render(wire):
    m = dns.message.from_wire(wire, one_rr_per_rrset=True)
    rcode = m.rcode()
    out = [f";; opcode: {OPCODES.get(m.opcode(), f'OPCODE{m.opcode()}')}, "
           f"status: {RCODES.get(rcode, f'RCODE{rcode}')}, id: {m.id}"]
    out.append(";; flags:" + "".join(" " + n for n, f in FLAG_ORDER if m.flags & f))
    if m.edns >= 0:
        do = ", do" if m.ednsflags & dns.flags.DO else ""
        out.append(f";; EDNS: version {m.edns}, udp {m.payload}{do}")
        for opt in m.options:
            out.append(";; " + option_line(opt))
    out.append(";; QUESTION")
    for q in m.question:
        out.append(f";{q.name.to_text()} {dns.rdataclass.to_text(q.rdclass)} {rr_type_text(q.rdtype)}")
    for title, section in (("ANSWER", m.answer), ("AUTHORITY", m.authority), ("ADDITIONAL", m.additional)):
        if not section:
            continue
        out.append(f";; {title}")
        for rrset in section:
            for rd in rrset:
                out.append(f"{rrset.name.to_text()} {rrset.ttl} {dns.rdataclass.to_text(rrset.rdclass)} "
                           f"{rr_type_text(rrset.rdtype)} {rd.to_styled_text(STYLE)}")
    return "\n".join(out) + "\n"


def store(name, wire):
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(wire)
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write(render(wire))
    print(f"{name}: {len(wire)} bytes")


# ---- queries ---------------------------------------------------------------------------------------

def query(qname, qtype, qid, do=True, payload=4096, options=None, edns=0, rd=False, pad=0, qclass="IN"):
    q = dns.message.make_query(qname, qtype, rdclass=qclass, use_edns=edns, want_dnssec=do, payload=payload,
                               options=options or [], pad=pad)
    q.id = qid
    if not rd:
        q.flags &= ~dns.flags.RD
    return q.to_wire()


def main():
    if shutil.which("knotd") is None:
        sys.exit("knotd not found: apt-get install -y knot")
    work = tempfile.mkdtemp(prefix="palisade-fixtures-")
    port = free_port()
    proc = None
    try:
        for zone, text in (("example.org", ZONE_ORG), ("example.net", ZONE_NET), ("2.0.192.in-addr.arpa", ZONE_REV)):
            with open(os.path.join(work, zone + ".zone"), "w") as f:
                f.write(text)
        conf = os.path.join(work, "knot.conf")
        with open(conf, "w") as f:
            f.write(KNOT_CONF.format(d=work, port=port))
        proc = subprocess.Popen(["knotd", "-c", conf], stdout=subprocess.DEVNULL, stderr=sys.stderr)
        # Poll (bounded) until the signed zones answer with their DNSKEYs.
        deadline = time.monotonic() + 30
        while True:
            try:
                r = dns.message.from_wire(exchange(port, query("example.net.", "DNSKEY", 1), timeout=0.5, tries=1))
                if r.rcode() == 0 and r.answer:
                    break
            except Exception:
                pass
            if proc.poll() is not None:
                sys.exit("knotd exited early")
            if time.monotonic() > deadline:
                sys.exit("knotd did not come up within 30 s")
            time.sleep(0.2)

        cases = [
            # name, qname, qtype, keyword arguments for query(), transport
            ("resp-a", "www.example.org.", "A", {}),
            ("resp-aaaa", "www.example.org.", "AAAA", {}),
            ("resp-a-nodo", "example.org.", "A", {"do": False}),
            ("resp-ns-glue", "example.org.", "NS", {"do": False}),
            ("resp-cname-chain", "chain.example.org.", "A", {}),
            ("resp-mx", "example.org.", "MX", {}),
            ("resp-txt", "txt.example.org.", "TXT", {}),
            ("resp-soa", "example.org.", "SOA", {"do": False}),
            ("resp-srv", "_sip._udp.example.org.", "SRV", {}),
            ("resp-ptr", "10.2.0.192.in-addr.arpa.", "PTR", {}),
            ("resp-dname", "x.dname.example.org.", "A", {"do": False}),
            ("resp-naptr", "example.org.", "NAPTR", {}),
            ("resp-naptr-regexp", "naptr.example.org.", "NAPTR", {"do": False}),
            ("resp-caa", "example.org.", "CAA", {}),
            ("resp-svcb", "svc.example.org.", "SVCB", {}),
            ("resp-svcb-alias", "svcalias.example.org.", "SVCB", {"do": False}),
            ("resp-https", "example.org.", "HTTPS", {}),
            ("resp-tlsa", "_443._tcp.www.example.org.", "TLSA", {}),
            ("resp-sshfp", "www.example.org.", "SSHFP", {}),
            ("resp-hinfo", "host.example.org.", "HINFO", {"do": False}),
            ("resp-ds", "sub.example.org.", "DS", {}),
            ("resp-referral", "www.sub.example.org.", "A", {}),
            ("resp-dnskey", "example.org.", "DNSKEY", {}),
            ("resp-nxdomain-nsec", "nope.example.org.", "A", {}),
            ("resp-nodata-nsec", "www.example.org.", "MX", {}),
            ("resp-nxdomain-nsec3", "nope.example.net.", "A", {}),
            ("resp-nsec3param", "example.net.", "NSEC3PARAM", {}),
            ("resp-nsec3-deep", "deep.a.b.c.example.net.", "A", {}),
            ("resp-unknown-type", "unknown.example.org.", "TYPE65280", {}),
            ("resp-mixed-case", "MiXeD.cAsE.example.org.", "A", {"do": False}),
            ("resp-escaped-label", "esc\\.aped.example.org.", "A", {"do": False}),
            ("resp-any-rfc8482", "example.org.", "ANY", {"do": False}),
            ("resp-refused", "example.com.", "A", {"do": False}),
            ("resp-ecs", "www.example.org.", "A",
             {"do": False, "options": [dns.edns.ECSOption("192.0.2.0", 24)]}),
            ("resp-ecs-v6", "www.example.org.", "AAAA",
             {"do": False, "options": [dns.edns.ECSOption("2001:db8:abcd::", 48)]}),
            ("resp-cookie", "www.example.org.", "A",
             {"do": False, "options": [dns.edns.CookieOption(bytes(range(1, 9)), b"")]}),
            ("resp-nsid", "www.example.org.", "A",
             {"do": False, "options": [dns.edns.GenericOption(3, b"")]}),
            ("resp-badvers", "www.example.org.", "A", {"do": False, "edns": 1}),
            ("resp-truncated", "big.example.org.", "TXT", {"do": False, "edns": -1}),
            ("resp-big-tcp", "big.example.org.", "TXT", {"edns": -1, "do": False}, "tcp"),
            ("resp-chaos-id", "id.server.", "TXT", {"do": False, "qclass": "CH"}),
        ]
        qid = 0x1000
        for case in cases:
            name, qname, qtype, kw = case[:4]
            tcp = len(case) > 4 and case[4] == "tcp"
            qid += 1
            wire = query(qname, qtype, qid, **kw)
            store(name, exchange(port, wire, tcp=tcp))

        # Queries as a client library builds them (dnspython), with the EDNS options the server meets.
        store("query-a", query("www.example.org.", "A", 0x2001, do=False, rd=True, payload=1232))
        store("query-noedns", query("example.org.", "MX", 0x2002, do=False, rd=True, edns=-1))
        store("query-do-cd", query("example.org.", "DNSKEY", 0x2003, rd=True))
        store("query-ecs", query("www.example.org.", "A", 0x2004, do=False, rd=True,
                                 options=[dns.edns.ECSOption("198.51.100.0", 24)]))
        store("query-cookie", query("www.example.org.", "AAAA", 0x2005, do=False, rd=True,
                                    options=[dns.edns.CookieOption(bytes.fromhex("0011223344556677"),
                                                                   bytes.fromhex("8899aabbccddeeff0011223344556677"))]))
        store("query-padding", query("www.example.org.", "HTTPS", 0x2006, do=False, rd=True, pad=128))
        store("query-keepalive", query("www.example.org.", "A", 0x2007, do=False, rd=True,
                                       options=[dns.edns.GenericOption(11, b"")]))
        store("query-ede-unknown", query("www.example.org.", "A", 0x2008, do=False, rd=True,
                                         options=[dns.edns.GenericOption(65001, b"\x01\x02\x03"),
                                                  dns.edns.EDEOption(dns.edns.EDECode.BLOCKED, "by policy")]))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
