#!/usr/bin/env python3
"""Regenerates the `windows_updates` table of ../catalog.json.

Input: DataForGeeks `content/ms/win/buildnumbers.json` (MIT, altrhombus/DataForGeeks@6846a6a,
a machine-readable mirror of Microsoft's Windows update-history pages). Only our derived table is
committed, never the input file.

Usage: gen_windows_updates.py PATH/TO/buildnumbers.json
Streams: one per (build group, client/server). Enablement-package siblings share one UBR stream
(19041..19045, 22621/22631, 26100/26200 client), which the script checks before merging.
Kinds: "security" = the monthly Patch Tuesday release (Standard or Hotpatch, 2nd Tuesday);
"preview", "oob" and "other" (a non-Tuesday Standard release from 2016-2017) are kept so a UBR
can still be named, but only "security" rows count as months.
"""
import datetime
import json
import os
import sys

GROUPS = [
    ("client", [19041, 19042, 19043, 19044, 19045]),
    ("client", [22621, 22631]),
    ("client", [26100, 26200]),
]


def kind(r):
    d = datetime.date.fromisoformat(r["release_date"])
    tuesday2 = d.weekday() == 1 and 8 <= d.day <= 14
    t = r["release_type"]
    if t in ("Standard", "Hotpatch") and tuesday2:
        return "security"
    if t == "Preview":
        return "preview"
    if t in ("Out-of-band", "Hotpatch-OOB"):
        return "oob"
    return "other"


def main():
    data = json.load(open(sys.argv[1]))["data"]
    by = {}
    for r in data:
        b, ubr = r["build"].split(".")
        key = (r["os_type"], int(b))
        by.setdefault(key, {})[int(ubr)] = (r["kb_article"], r["release_date"], kind(r))
    streams = []
    used = set()
    for os_type, builds in GROUPS:
        merged = {}
        for b in builds:
            rows = by.get((os_type, b), {})
            for ubr, v in rows.items():
                if ubr in merged and merged[ubr][0] != v[0]:
                    sys.exit(f"stream {builds}: UBR {ubr} differs ({merged[ubr]} vs {v})")
                merged[ubr] = v
            used.add((os_type, b))
        streams.append((os_type, builds, merged))
    for key in sorted(by):
        if key not in used:
            streams.append((key[0], [key[1]], by[key]))
    out = []
    for os_type, builds, rows in streams:
        out.append({
            "id": f"{os_type}-{'-'.join(str(b) for b in builds)}",
            "installation": os_type,
            "builds": builds,
            "source": "DFG",
            "updates": [
                {"ubr": ubr, "kb": kb, "date": date, "kind": k}
                for ubr, (kb, date, k) in sorted(rows.items())
            ],
        })
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "catalog.json")
    catalog = json.load(open(path))
    catalog["windows_updates"] = out
    write(path, catalog)


def write(path, catalog):
    """One update per line keeps diffs readable."""
    # json.dumps cannot put one row per line, so the rows are emitted by hand.
    tmp = dict(catalog)
    updates = tmp.pop("windows_updates")
    text = json.dumps(tmp, indent=2, ensure_ascii=False)
    body = []
    for s in updates:
        head = {k: v for k, v in s.items() if k != "updates"}
        rows = ",\n".join("        " + json.dumps(u) for u in s["updates"])
        h = json.dumps(head)[:-1]
        body.append(f"    {h}, \"updates\": [\n{rows}\n    ]}}")
    text = text[:-2] + ",\n  \"windows_updates\": [\n" + ",\n".join(body) + "\n  ]\n}\n"
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
