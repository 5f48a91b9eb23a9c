#!/usr/bin/env python3
"""tests/bench/table.py - the table of `make bench` (tests/bench/run.sh).

Reads the results file (workload TAB arm TAB value, one per measurement)
and prints one table: rows are workloads, columns the median of each arm,
then the best kube-uproxy arm against direct and against the best HAProxy
arm.  "Best" is the highest value, or the lowest where lower is better
(latency, memory, time, losses).  Then the DESIGN.md section 6 targets
that this run measures, met or missed.
"""
import statistics
import sys

ARMS = ["direct", "dnat", "kup-copy", "kup-splice", "kup-base", "haproxy",
        "haproxy-spl", "socat", "kup", "kup-nft", "kup-nft-base"]
LOWER = ("us", "ms", "B/conn", "lost", "MiB", "min/max", "per 1M", "commits",
         "ms to rules", "read to rules")


def lower_better(w):
    return any(w.endswith(s) or s + "," in w for s in LOWER) and \
        "min/max" not in w


def main():
    data, order = {}, []
    with open(sys.argv[1]) as f:
        for line in f:
            w, arm, v = line.rstrip("\n").split("\t")
            if w not in data:
                data[w] = {}
                order.append(w)
            try:
                data[w].setdefault(arm, []).append(float(v))
            except ValueError:
                data[w].setdefault(arm, [])
    med = {w: {a: statistics.median(v) if v else None
               for a, v in d.items()} for w, d in data.items()}
    arms = [a for a in ARMS if any(a in d for d in data.values())]

    def best(w, names):
        vals = [med[w][a] for a in names if med[w].get(a) is not None]
        if not vals:
            return None
        return min(vals) if lower_better(w) else max(vals)

    def fmt(v):
        if v is None:
            return "-"
        if abs(v) >= 1000:
            return "%.0f" % v
        return "%.3g" % v if abs(v) < 10 else "%.1f" % v

    # kup-base (KUBE_UPROXY_BASE) is another build: in copy mode on the
    # data path, and the ctl group's legacy backend (kup-nft-base its
    # nftables one).  Its column is the change's cost or gain: the new
    # build over the base one.
    base = "kup-base" in arms or "kup-nft-base" in arms
    head = ["workload (median)"] + arms + ["kup/direct", "kup/HAProxy"] + \
        (["new/base"] if base else [])
    rows = []
    for w in order:
        row = [w] + [fmt(med[w].get(a)) if a in med[w] else "" for a in arms]
        k = best(w, ["kup-copy", "kup-splice", "kup"])
        d = med[w].get("direct")
        h = best(w, ["haproxy", "haproxy-spl"])
        row.append("%.2f" % (k / d) if k is not None and d else "")
        row.append("%.2f" % (k / h) if k is not None and h else "")
        if base:
            # One ratio per pair the row has (legacy / nftables in ctl).
            pairs = []
            for new, old in (("kup-copy", "kup-base"), ("kup", "kup-base"),
                             ("kup-nft", "kup-nft-base")):
                c, b = med[w].get(new), med[w].get(old)
                if c is not None and b:
                    pairs.append("%.3f" % (c / b))
            row.append(" / ".join(pairs))
        rows.append(row)
    width = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head, ["-" * x for x in width]] + rows:
        print("  ".join(c.ljust(width[0]) if i == 0 else c.rjust(width[i])
                        for i, c in enumerate(r)))

    # The targets of DESIGN.md section 6 that this run measured.
    print()
    print("targets (DESIGN.md 6; kup = best of kup-copy/kup-splice):")

    def target(name, value, must, aim, higher=True, unit=""):
        if value is None:
            print("  %-48s not measured" % name)
            return
        ok = (lambda x: value >= x) if higher else (lambda x: value <= x)
        verdict = "aim met" if ok(aim) else ("must met" if ok(must)
                                              else "MISSED")
        print("  %-48s %8.2f%s  (must %s%.4g, aim %s%.4g): %s" % (
            name, value, unit, ">=" if higher else "<=", must,
            ">=" if higher else "<=", aim, verdict))

    def ratio(w, a, b):
        if w not in med:
            return None
        x, y = a(w), b(w)
        return x / y if x and y else None

    kup = lambda w: best(w, ["kup-copy", "kup-splice"])
    hap = lambda w: best(w, ["haproxy", "haproxy-spl"])
    dire = lambda w: med[w].get("direct")
    w1 = "TCP 1 stream c->s Gbit/s"
    target("TCP 1 stream vs HAProxy", ratio(w1, kup, hap), 1.25, 1.5)
    target("TCP 1 stream vs direct", ratio(w1, kup, dire), 0.55, 0.65)
    target("new connections/s vs HAProxy",
           ratio("HTTP new conn/s (close)", kup, hap), 1.0, 1.2)
    for p, aim in (("p50", 12), ("p99", 20)):
        w = "64B RR pinned %s us" % p
        if w in med and kup(w) is not None and dire(w):
            added = kup(w) - dire(w)
            h = hap(w)
            hadd = h - dire(w) if h is not None else None
            target("added latency 64B pinned %s (us)" % p, added,
                   hadd if hadd is not None else float("inf"), aim,
                   higher=False)
    target("UDP 64B datagrams/s vs direct",
           ratio("UDP 64B datagrams/s", kup, dire), 0.70, 0.85)
    w = "DNS lost per 1M"
    if w in med:
        target("DNS lost per 1M queries", kup(w), 0, 0, higher=False)
    target("DNS answers/s vs direct", ratio("DNS answers/s", kup, dire),
           0, 0.9)
    w = "idle conn: relay RSS B/conn"
    if w in med:
        target("user-space memory per idle conn (B)", kup(w), 1024, 256,
               higher=False)
    for w in order:
        if w.startswith("ctl: cold start, 10000") and \
                "observed" not in w and med[w].get("kup") is not None:
            target("10,000 ports cold start (s)" +
                   w[len("ctl: cold start, 10000 ports"):-3],
                   med[w]["kup"] / 1000, 2, 0.5, higher=False)
        if w.startswith("ctl: one added at 10000") and \
                med[w].get("kup") is not None:
            target("one service added at 10,000 (ms)" +
                   w[len("ctl: one added at 10000"):-len(", ms to answer")],
                   med[w]["kup"], 100, 60, higher=False)

    # Issue 13: the nftables backend (kup-nft) against the legacy one.
    print()
    print("targets (issue 13; kup = iptables legacy, kup-nft = nftables):")
    for arm in ("kup", "kup-nft"):
        for w in order:
            v = med[w].get(arm)
            if v is None or ", port range" not in w:
                continue
            if w.startswith("ctl: one added at 10000"):
                target("%s: one added at 10,000 (ms)" % arm, v, 10, 3,
                       higher=False)
            elif w.startswith("ctl: 1000 changed at 10000") and \
                    "from read to rules" in w:
                target("%s: 1,000 changed, read to rules (ms)" % arm, v, 100, 30,
                       higher=False)
            elif w.startswith("ctl: cold start, 10000") and \
                    "observed" not in w and "MiB" not in w:
                target("%s: 10,000 ports cold start (s)" % arm, v / 1000,
                       0.5, 0.25, higher=False)
            elif w.startswith("ctl: repair of 10000"):
                target("%s: resync of 10,000 unchanged (ms)" % arm, v, 5, 1,
                       higher=False)
            elif w.startswith("ctl: manifests re-read, 10000"):
                target("%s: manifests re-read, 10,000 unchanged, CPU (ms)"
                       % arm, v, 5, 1, higher=False)
    scale = [w for w in order if w.startswith("scale: new conn/s, ")]
    big = sorted({int(w.split(" of ")[1].split()[0]) for w in scale} - {10})
    for arm in ("dnat", "kup", "kup-nft"):
        for which in ("first", "last"):
            lo = med.get("scale: new conn/s, %s of 10 services" % which, {})
            for n in big:
                hi = med.get("scale: new conn/s, %s of %d services" %
                             (which, n), {})
                if lo.get(arm) and hi.get(arm):
                    target("%s: conn/s %s of %d vs of 10" % (arm, which, n),
                           hi[arm] / lo[arm], 0.95, 0.98)


main()
