#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Checks of vsocktop's JSON Lines and Prometheus output for
suites.d/73-vsocktop.sh. Each check prints "PASS what" or
"FAIL what: why" lines; the exit status is 1 when any failed.

  check.py sums JSON MODE DEV PORT:UP:DOWN[,...] [TX_PKTS RX_PKTS]
      MODE is mvsock or stock; DEV the device the traffic took (loopback).
      Every object has that mode; per device and per connection the sums
      of tx_bytes/rx_bytes over the intervals are exactly the payload;
      *_total equals the sums; with TX_PKTS/RX_PKTS (the mvsock_pkt_*
      tracepoints' counts over the run), the packet sums equal them.
  check.py midstream JSON PORT K BUF_ALLOC PID
      The first object: the server's side of PORT has rx_queued K and
      the client's side peer_credit BUF_ALLOC - K; owner pid/comm.
  check.py stall JSON PORT DEV MIN_MS
      The client's side of PORT was stalled in some interval, its device
      counted the stall, and the credit-limited time is at least MIN_MS.
  check.py hotplug JSON CID
      A device with CID appears, then disappears, and objects follow.
  check.py devices JSON MODE ROLE CID:RX[:TX][,...] [DEFAULT_CID]  (RX "-": any)
      Devices of ROLE with each CID (CID "any": the one device of that
      role) are listed in every object, and their rx_bytes (tx_bytes)
      summed over the intervals are exactly RX (TX); with DEFAULT_CID,
      that device has the default flag.
  check.py cross HOST_JSON GUEST_JSON CID[,...]
      What the host's device for guest CID sent (tx_bytes summed) is what
      the guest's device with that CID received, and more than 0.
  check.py prom METRICS JSON
      The scraped counters equal the last JSON object's totals.
  check.py schema JSON
      Every key the documented schema names is in every object.
"""
import json
import re
import sys

failed = False


def result(ok, what, why=""):
    global failed
    if ok:
        print("PASS " + what)
    else:
        failed = True
        print("FAIL %s: %s" % (what, why))


def load(path):
    objs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                objs.append(json.loads(line))
            except ValueError as e:
                result(False, "JSON line %d parses" % n, str(e))
    return objs


def conn_key(c):
    return (c["local_cid"], c["local_port"], c["peer_cid"], c["peer_port"])


def sums(objs, dev):
    """per-connection and per-device sums of the per-interval fields"""
    conns, last = {}, {}
    d = {"tx_bytes": 0, "rx_bytes": 0, "tx_pkts": 0, "rx_pkts": 0}
    dlast = None
    for o in objs:
        for x in o["devices"]:
            if x["id"] == dev:
                for k in d:
                    d[k] += x[k]
                dlast = x
        for c in o["conns"]:
            s = conns.setdefault(conn_key(c), {"tx_bytes": 0, "rx_bytes": 0})
            s["tx_bytes"] += c["tx_bytes"]
            s["rx_bytes"] += c["rx_bytes"]
            last[conn_key(c)] = c
    return conns, last, d, dlast


def cmd_sums(path, mode, dev, spec, pkts=None):
    objs = load(path)
    dev = int(dev)
    result(len(objs) >= 2, "at least two JSON objects", "got %d" % len(objs))
    if not objs:
        return
    modes = sorted({o["mode"] for o in objs})
    result(modes == [mode], "mode is %s" % mode, "saw %s" % modes)
    conns, last, d, dlast = sums(objs, dev)
    total = 0
    for item in spec.split(","):
        port, up, down = (int(v) for v in item.split(":"))
        total += up + down
        srv = [k for k in conns if k[1] == port and k[3] != 0xFFFFFFFF]
        cli = [k for k in conns if k[3] == port]
        result(len(srv) == 1 and len(cli) == 1,
               "port %d: one server and one client connection" % port,
               "server %s client %s" % (srv, cli))
        if len(srv) != 1 or len(cli) != 1:
            continue
        for side, k, tx, rx in (("server", srv[0], down, up),
                                ("client", cli[0], up, down)):
            got = conns[k]
            result(got["tx_bytes"] == tx and got["rx_bytes"] == rx,
                   "port %d %s: interval sums tx %d rx %d" % (port, side, tx, rx),
                   "tx %d rx %d" % (got["tx_bytes"], got["rx_bytes"]))
            lc = last[k]
            result(lc["tx_bytes_total"] == tx and lc["rx_bytes_total"] == rx,
                   "port %d %s: *_total equal the sums" % (port, side),
                   "tx_total %s rx_total %s" % (lc["tx_bytes_total"], lc["rx_bytes_total"]))
    result(dlast is not None, "device %d listed" % dev, "no such device")
    if dlast is None:
        return
    result(d["tx_bytes"] == total and d["rx_bytes"] == total,
           "device %d: interval sums tx = rx = %d" % (dev, total),
           "tx %d rx %d" % (d["tx_bytes"], d["rx_bytes"]))
    result(dlast["tx_bytes_total"] == d["tx_bytes"] and
           dlast["rx_bytes_total"] == d["rx_bytes"],
           "device %d: *_total equal the sums" % dev,
           "tx_total %s rx_total %s" % (dlast["tx_bytes_total"], dlast["rx_bytes_total"]))
    if pkts:
        tx, rx = int(pkts[0]), int(pkts[1])
        result(d["tx_pkts"] == tx and d["rx_pkts"] == rx,
               "device %d: packet sums equal the tracepoints' counts (tx %d rx %d)" % (dev, tx, rx),
               "tx_pkts %d rx_pkts %d" % (d["tx_pkts"], d["rx_pkts"]))


def cmd_midstream(path, port, k, buf_alloc, pid):
    port, k, buf_alloc, pid = int(port), int(k), int(buf_alloc), int(pid)
    objs = load(path)
    result(len(objs) >= 1, "a JSON object", "none")
    if not objs:
        return
    conns = objs[0]["conns"]
    srv = [c for c in conns if c["local_port"] == port and c["state"] == "ESTAB"]
    cli = [c for c in conns if c["peer_port"] == port and c["state"] == "ESTAB"]
    result(len(srv) == 1 and len(cli) == 1, "both sides of port %d in the first object" % port,
           "server %d client %d" % (len(srv), len(cli)))
    if len(srv) != 1 or len(cli) != 1:
        return
    s, c = srv[0], cli[0]
    result(s["rx_queued"] == k, "receiver: rx_queued = %d" % k, "got %s" % s["rx_queued"])
    result(c["peer_buf_alloc"] == buf_alloc, "sender: peer_buf_alloc = %d" % buf_alloc,
           "got %s" % c["peer_buf_alloc"])
    result(c["peer_credit"] == buf_alloc - k, "sender: peer_credit = %d" % (buf_alloc - k),
           "got %s" % c["peer_credit"])
    result(c["tx_queued"] == 0, "sender: tx_queued = 0 (loopback consumed it)",
           "got %s" % c["tx_queued"])
    result(c["pid"] == pid and c["comm"] == "vt_traffic", "sender: owner %d vt_traffic" % pid,
           "got %s %s" % (c["pid"], c["comm"]))
    result(s["pid"] not in (None, pid) and s["comm"] == "vt_traffic",
           "receiver: owner is the server process", "got %s %s" % (s["pid"], s["comm"]))
    result(c["tx_bytes_total"] == 0 and s["rx_bytes_total"] == 0,
           "counters of an existing connection start at 0",
           "tx_total %s rx_total %s" % (c["tx_bytes_total"], s["rx_bytes_total"]))


def cmd_stall(path, port, dev, min_ms):
    port, dev, min_ms = int(port), int(dev), int(min_ms)
    objs = load(path)
    cli = [c for o in objs for c in o["conns"] if c["peer_port"] == port and c["state"] == "ESTAB"]
    result(any(c["stalled"] for c in cli), "sender stalled in some interval",
           "stalled flags %s" % [c["stalled"] for c in cli])
    result(any((c["credit_stalls"] or 0) >= 1 for c in cli), "sender: credit_stalls >= 1",
           "%s" % [c["credit_stalls"] for c in cli])
    lim = max([c["credit_limited_ms"] or 0 for c in cli] or [0])
    result(lim >= min_ms, "sender: credit_limited_ms >= %d" % min_ms, "max %d" % lim)
    devs = [x for o in objs for x in o["devices"] if x["id"] == dev]
    result(any(x["stalled"] >= 1 for x in devs), "device %d: stalled >= 1 in some interval" % dev,
           "%s" % [x["stalled"] for x in devs])
    result(sum(x["credit_stalls"] for x in devs) >= 1, "device %d: credit_stalls >= 1" % dev,
           "%s" % [x["credit_stalls"] for x in devs])
    dl = sum(x["credit_limited_ms"] for x in devs)
    wall = sum(o["interval_s"] for o in objs) * 1000
    result(min_ms <= dl <= wall + 50, "device %d: credit_limited_ms summed %d..%d" % (dev, min_ms, wall),
           "got %d" % dl)


def cmd_hotplug(path, cid):
    cid = int(cid)
    objs = load(path)
    seen = [any(d["cid"] == cid for d in o["devices"]) for o in objs]
    first = seen.index(True) if True in seen else -1
    result(first >= 0, "device CID %d appears" % cid, "never listed")
    if first < 0:
        return
    gone = seen.index(False, first) if False in seen[first:] else -1
    result(gone > 0, "device CID %d disappears after hot-unplug" % cid, "still listed")
    result(gone > 0 and len(objs) > gone + 1 and not any(seen[gone:]),
           "vsocktop keeps running without the device",
           "%d objects after removal" % (len(objs) - gone if gone > 0 else 0))


def dev_sums(objs, role, cid):
    """(objects listing it, rx sum, tx sum) of the device role/cid"""
    seen, rx, tx = 0, 0, 0
    for o in objs:
        ds = [d for d in o["devices"] if d["role"] == role and
              (cid == "any" or d["cid"] == int(cid))]
        if len(ds) == 1:
            seen += 1
            rx += ds[0]["rx_bytes"]
            tx += ds[0]["tx_bytes"]
    return seen, rx, tx


def cmd_devices(path, mode, role, spec, default_cid=None):
    objs = load(path)
    result(len(objs) >= 2, "at least two JSON objects", "got %d" % len(objs))
    modes = sorted({o["mode"] for o in objs})
    result(modes == [mode], "mode is %s" % mode, "saw %s" % modes)
    for item in spec.split(","):
        f = item.split(":")
        cid = f[0]
        seen, grx, gtx = dev_sums(objs, role, cid)
        result(seen == len(objs), "%s device CID %s in every object" % (role, cid),
               "in %d of %d" % (seen, len(objs)))
        if f[1] != "-":
            result(grx == int(f[1]), "%s device CID %s: rx_bytes sum %s" % (role, cid, f[1]),
                   "got %d" % grx)
        if len(f) > 2:
            result(gtx == int(f[2]), "%s device CID %s: tx_bytes sum %s" % (role, cid, f[2]),
                   "got %d" % gtx)
    if default_cid is not None and objs:
        dflt = [d["cid"] for d in objs[-1]["devices"] if d["default"]]
        result(dflt == [int(default_cid)], "the default device is CID %s" % default_cid,
               "default: %s" % dflt)


def cmd_cross(host, guest, cids):
    ho, go = load(host), load(guest)
    for cid in cids.split(","):
        _, _, htx = dev_sums(ho, "host", cid)
        _, grx, _ = dev_sums(go, "guest", cid)
        result(htx == grx and htx > 0,
               "CID %s: the host's tx_bytes sum equals the guest's rx_bytes sum" % cid,
               "host tx %d guest rx %d" % (htx, grx))


def prom_values(path, name):
    vals = {}
    pat = re.compile(r'^%s\{([^}]*)\} (\S+)$' % re.escape(name))
    with open(path) as f:
        for line in f:
            m = pat.match(line.strip())
            if m:
                labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
                vals[labels.get("dev")] = float(m.group(2))
    return vals


def cmd_prom(metrics, path):
    objs = load(path)
    if not objs:
        result(False, "JSON objects", "none")
        return
    last = objs[-1]
    for metric, field in (("vsock_transmit_bytes_total", "tx_bytes_total"),
                          ("vsock_receive_bytes_total", "rx_bytes_total"),
                          ("vsock_transmit_packets_total", "tx_pkts_total"),
                          ("vsock_receive_packets_total", "rx_pkts_total")):
        vals = prom_values(metrics, metric)
        want = {str(d["id"]): d[field] for d in last["devices"]}
        got = {k: int(v) for k, v in vals.items()}
        result(got == want and want, "%s equals the JSON %s" % (metric, field),
               "prometheus %s json %s" % (got, want))


SCHEMA_TOP = ["ts", "interval_s", "mode", "devices", "conns"]
SCHEMA_DEV = ["id", "name", "role", "cid", "default", "tx_pkts", "rx_pkts", "tx_bytes",
              "rx_bytes", "tx_bytes_total", "rx_bytes_total", "queue_depth",
              "queue_depth_max", "conns", "stalled", "credit_stalls", "tx_latency_us",
              "rx_latency_us"]
SCHEMA_CONN = ["local_cid", "local_port", "peer_cid", "peer_port", "dev", "type", "state",
               "tx_bytes", "rx_bytes", "tx_bytes_total", "rx_bytes_total", "rx_queued",
               "tx_queued", "peer_credit", "peer_buf_alloc", "credit_stalls",
               "credit_limited_ms", "pid", "comm"]
TS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')


def cmd_schema(path):
    objs = load(path)
    bad = []
    for o in objs:
        bad += [k for k in SCHEMA_TOP if k not in o]
        if not TS.match(o.get("ts", "")):
            bad.append("ts format %s" % o.get("ts"))
        for d in o.get("devices", []):
            bad += ["dev." + k for k in SCHEMA_DEV if k not in d]
            if d.get("role") not in ("local", "guest", "host"):
                bad.append("role %s" % d.get("role"))
            for lat in ("tx_latency_us", "rx_latency_us"):
                if sorted(d.get(lat, {})) != ["max", "p50", "p99"]:
                    bad.append(lat)
        for c in o.get("conns", []):
            bad += ["conn." + k for k in SCHEMA_CONN if k not in c]
            if c.get("type") not in ("stream", "seqpacket"):
                bad.append("type %s" % c.get("type"))
            if c.get("state") not in ("ESTAB", "SYN_SENT", "LISTEN", "CLOSING", "CLOSE"):
                bad.append("state %s" % c.get("state"))
    result(objs and not bad, "every object has the documented keys and values",
           ", ".join(sorted(set(bad))[:10]) or "no objects")


def main():
    cmds = {"sums": cmd_sums, "devices": cmd_devices, "cross": cmd_cross, "midstream": cmd_midstream, "stall": cmd_stall,
            "hotplug": cmd_hotplug, "prom": cmd_prom, "schema": cmd_schema}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    args = sys.argv[2:]
    if sys.argv[1] == "sums":
        cmd_sums(*args[:4], pkts=args[4:6] or None)
    else:
        cmds[sys.argv[1]](*args)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
