"""The report of `make bench`: ratios against the issue's targets, as a text table and a hand-written SVG bar
chart (no plotting dependency). Every ratio is "ours ÷ reference": below 1 is better for us, and the target
is the largest ratio the issue accepts."""
from __future__ import annotations

from html import escape

ZIP_LIMIT = 6_000_000  # "≤ 6 MB per function", read as decimal megabytes (the stricter reading of the two)

NAMES = {"template-publisher": "template-publisher", "execution-role-policies": "execution-role-policies",
         "domain-onboarder": "onboarder ReconcileDomains"}


def _med(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _row(group, metric, ours, reference, ratio, target=None, unit="ms", note=""):
    met = None if target is None or ratio is None else ratio <= target + 1e-9
    return {"group": group, "metric": metric, "ours": ours, "reference": reference, "unit": unit,
            "ratio": ratio, "target": target, "met": met, "note": note}


def _div(a, b):
    return a / b if a is not None and b else None


def ratios(results: dict) -> list[dict]:
    rows = []
    for fn, r in (results.get("cold") or {}).items():
        ours, peer = _med(r, "rust", "cold_ms", "median"), _med(r, "peer", "cold_ms", "median")
        rows.append(_row("cold start", f"{NAMES.get(fn, fn)}: start → response PUT", ours, peer, _div(ours, peer), 0.10,
                         note="vs Python peer (crhelper + boto3, awslambdaric)"))
    for fn, r in (results.get("cold") or {}).items():
        ours, peer = _med(r, "rust", "outside_emulator_ms", "median"), _med(r, "peer", "outside_emulator_ms", "median")
        rows.append(_row("cold start", f"{NAMES.get(fn, fn)}: the same, minus time the emulator was busy", ours, peer,
                         _div(ours, peer), note="profile: the function's own share; no target"))
    for fn, r in (results.get("cold") or {}).items():
        ours, peer = _med(r, "rust", "peak_rss_mib", "median"), _med(r, "peer", "peak_rss_mib", "median")
        rows.append(_row("peak RSS", f"{NAMES.get(fn, fn)}: VmHWM after the cold invocation", ours, peer,
                         _div(ours, peer), 1 / 3, unit="MiB", note="vs Python peer"))
    for fn, r in (results.get("warm") or {}).items():
        ours, peer = _med(r, "rust", "warm_ms", "median"), _med(r, "peer", "warm_ms", "median")
        rows.append(_row("warm", f"{NAMES.get(fn, fn)}: event → response PUT", ours, peer, _div(ours, peer),
                         note="vs Python peer; no target in the issue"))
    pub = results.get("publishing") or {}
    if "5" in pub:
        p = pub["5"]
        ours, cli = _med(p, "ours", "wall_ms", "median"), _med(p, "cli", "wall_ms_for_all")
        rows.append(_row("publishing", "5 templates: ours (whole process) vs the seed's CLI loop", ours, cli,
                         _div(ours, cli), 1 / 20, note="target: ≥ 20× faster"))
        ours_in, floor = _med(p, "ours", "publish_ms", "median"), _med(p, "floor", "publish_ms", "median")
        rows.append(_row("publishing", "5 templates: ours (publish only) vs the raw PutObject floor", ours_in, floor,
                         _div(ours_in, floor), note="floor: unsigned raw HTTP, 16 connections; no target"))
    if "1000" in pub:
        p = pub["1000"]
        ours, floor = _med(p, "ours", "publish_ms", "median"), _med(p, "floor", "publish_ms", "median")
        rows.append(_row("publishing", "1,000 templates: ours (publish only) vs the raw PutObject floor", ours, floor,
                         _div(ours, floor), 2.0, note="target: within 2× of the floor"))
        cli = _med(p, "cli", "wall_ms_for_all")
        ours_w = _med(p, "ours", "wall_ms", "median")
        n = _med(p, "cli", "files_measured")
        rows.append(_row("publishing", "1,000 templates: ours (whole process) vs the seed's CLI loop", ours_w, cli,
                         _div(ours_w, cli), note=f"CLI extrapolated linearly from {n} measured files"))
    for r in results.get("requests") or []:
        m = (r.get("measured") or {}).get("total")
        rows.append(_row("API requests", r["operation"], m, r["minimum"], r.get("ratio"), 1.0, unit="requests",
                         note="vs the minimum (bench/README.md says why)"))
    sw = results.get("sweep")
    if sw:
        rows.append(_row("sweep", f"reconcile sweep of {sw['domains']} domains (shared role)", sw["wall_ms"], None, None,
                         note=f"{sw['requests_per_domain']:.2f} requests a domain; no target"))
    lat = results.get("latency")
    for d in (lat or {}).get("domains", []):
        rows.append(_row("onboarding lag", f"domain InService after {d['ready_after_s']} s: lag to tag + project",
                         d["lag_s"], d["backoff_lag_s"], _div(d["lag_s"], d["backoff_lag_s"]), unit="s",
                         note=f"vs the former backoff (computed); {d['invocations']} invocations "
                              f"(backoff: {d['backoff_invocations']}); clock scaled {lat['scale']}×, "
                              f"interval {lat['interval_s']} s; no target"))
    for fn, a in (results.get("artifacts") or {}).items():
        if a is None:
            rows.append(_row("artifact", f"{fn}.zip (arm64)", None, ZIP_LIMIT, None, 1.0, unit="bytes",
                             note="not built: run `make package`"))
        else:
            rows.append(_row("artifact", f"{fn}.zip ({a['machine']})", a["zip_bytes"], ZIP_LIMIT,
                             a["zip_bytes"] / ZIP_LIMIT, 1.0, unit="bytes", note="vs the 6 MB limit"))
    return rows


def _fmt(v, unit):
    if v is None:
        return "-"
    if unit == "bytes":
        return f"{v / 1e6:.2f} MB"
    if unit == "requests":
        return f"{v:g}"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    if unit == "s":
        return f"{v:.1f} s"
    return f"{v / 1e3:.2f} s" if v >= 10_000 else f"{v:.1f} ms"


def _target(t):
    if t is None:
        return "-"
    if abs(t - 1 / 3) < 1e-9:
        return "≤ 0.33"
    return f"≤ {t:g}"


def table(rows: list[dict]) -> str:
    head = ("group", "measure", "ours", "reference", "ratio", "target", "")
    lines = [head]
    for r in rows:
        verdict = {True: "met", False: "MISSED", None: ""}[r["met"]]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        lines.append((r["group"], r["metric"], _fmt(r["ours"], r["unit"]), _fmt(r["reference"], r["unit"]), ratio,
                      _target(r["target"]), verdict))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown(rows: list[dict]) -> str:
    out = ["| group | measure | ours | reference | ours ÷ reference | target | |", "|---|---|---:|---:|---:|---:|---|"]
    for r in rows:
        verdict = {True: "met", False: "**missed**", None: ""}[r["met"]]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        out.append(f"| {r['group']} | {r['metric']} | {_fmt(r['ours'], r['unit'])} | {_fmt(r['reference'], r['unit'])} "
                   f"| {ratio} | {_target(r['target'])} | {verdict} |")
    return "\n".join(out)


def svg(rows: list[dict], env: dict) -> str:
    """Horizontal bars of ours ÷ reference (log scale, 0.001 … 10), a tick at each row's target."""
    import math

    shown = [r for r in rows if r["ratio"]]
    lo, hi = -3.0, 1.0  # log10 range
    left, width, bar_h, gap, top = 530, 420, 16, 8, 64
    height = top + len(shown) * (bar_h + gap) + 60

    def x(v):
        v = min(max(math.log10(v), lo), hi)
        return left + (v - lo) / (hi - lo) * width

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 150}" height="{height}" '
             f'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="12" y="22" font-size="15" font-weight="bold">make bench: ours ÷ reference '
             f'(shorter is better; | marks the target)</text>',
             f'<text x="12" y="42" fill="#555">{escape(env.get("date", ""))}, {env.get("cpus")} cpus, load at start '
             f'{escape(str(env.get("load_average_at_start")))}; log scale</text>']
    for p in range(int(lo), int(hi) + 1):
        gx = x(10 ** p)
        parts.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{height - 40}" stroke="#ddd"/>')
        parts.append(f'<text x="{gx:.1f}" y="{height - 26}" text-anchor="middle" fill="#555">{10 ** p:g}</text>')
    one = x(1)
    parts.append(f'<line x1="{one:.1f}" y1="{top - 6}" x2="{one:.1f}" y2="{height - 40}" stroke="#999"/>')
    for i, r in enumerate(shown):
        y = top + i * (bar_h + gap)
        colour = {True: "#2e7d32", False: "#e65100", None: "#607d8b"}[r["met"]]
        label = f"{r['group']}: {r['metric']}"
        if len(label) > 70:
            label = label[:69] + "…"
        parts.append(f'<text x="{left - 8}" y="{y + 12}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{max(x(r["ratio"]) - left, 1):.1f}" height="{bar_h}" '
                     f'fill="{colour}"/>')
        text_x = max(x(r["ratio"]), x(r["target"]) if r["target"] is not None else left) + 5
        parts.append(f'<text x="{text_x:.1f}" y="{y + 12}" fill="#222">{r["ratio"]:.3g}</text>')
        if r["target"] is not None:
            tx = x(r["target"])
            parts.append(f'<line x1="{tx:.1f}" y1="{y - 2}" x2="{tx:.1f}" y2="{y + bar_h + 2}" stroke="black" '
                         f'stroke-width="2"/>')
    parts.append(f'<text x="12" y="{height - 8}" fill="#555">green: target met; orange: missed; grey: no target. '
                 f'Source: bench/results/bench.json</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


START, END = "<!-- results:start (written by bench/run.py) -->", "<!-- results:end -->"


def replace_results(readme: str, rows: list[dict], results: dict) -> str:
    """The README's results section, between its markers, rewritten from this run."""
    if START not in readme or END not in readme:
        return readme
    env = results.get("environment", {})
    sw = results.get("sweep") or {}
    lines = [START, "",
             f"Run of {env.get('date')} on {env.get('cpus')} cpus (load average at start "
             f"{env.get('load_average_at_start')}), {env.get('rustc')}; `make bench` took {env.get('seconds')} s "
             f"after the builds.", "", markdown(rows), ""]
    if sw:
        per = ", ".join(f"{op.split(':', 1)[1]} {n:g}" for op, n in sw.get("per_domain_by_operation", {}).items())
        lines += [f"Sweep of {sw['domains']} domains: {sw['wall_ms'] / 1e3:.1f} s, "
                  f"{sw['requests_per_domain']:.2f} requests a domain ({per}).", ""]
    lines.append(END)
    head, rest = readme.split(START, 1)
    return head + "\n".join(lines) + rest.split(END, 1)[1]
