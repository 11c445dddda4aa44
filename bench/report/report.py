#!/usr/bin/python3
"""Turns the BENCH lines of a bench/run session into results: JSON, a Markdown table and an SVG chart.

    report.py summarize --samples FILE --runs FILE --out-dir DIR ...   (called by bench/run)
    report.py render RESULTS.json [--out-dir DIR]     # the table and chart again from a results file
    report.py compare BASELINE.json CURRENT.json [--tolerance PCT]
    report.py check RESULTS.json                      # can this script read it?

Standard library only (Debian's python3); the chart is drawn by gnuplot.
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys

SCHEMA = 1

# Figures in table order: id, label, bar. A bar is (kind, limit, text): "ratio_min" holds SDK/Paho
# to at least the limit, "sdk_max" / "sdk_min" the SDK median to at most / at least the limit.
# Figures a program reports that are not listed here come after these, labelled with their id.
FIGURES = [
    ("encode_measurepoint_post_10", "Encode a measure-point post (10 points)",
     ("sdk_max", 1000, "≤ 1 µs")),
    ("encode_allocations_per_msg", "Heap allocations per encode", ("sdk_max", 0, "0")),
    ("qos0_post_throughput", "QoS 0 post throughput", ("ratio_min", 0.9, "SDK/Paho ≥ 0.9")),
    ("qos1_post_w1_throughput", "QoS 1 post, reply awaited before the next (blocking form)",
     ("ratio_min", 0.9, "SDK/Paho ≥ 0.9")),
    ("qos1_post_w100_throughput", "QoS 1 post, 100 replies awaited at a time (callback form)",
     ("ratio_min", 0.9, "SDK/Paho ≥ 0.9")),
    ("qos0_post_cpu", "CPU per QoS 0 post (incl. cloud subscriber)", None),
    ("qos1_post_w1_cpu", "CPU per QoS 1 post, window 1", None),
    ("qos1_post_w100_cpu", "CPU per QoS 1 post, window 100", None),
    ("rrpc_p50", "RRPC round trip p50", ("sdk_max", 1000, "≤ 1 ms")),
    ("rrpc_p99", "RRPC round trip p99", None),
    ("connect_p50", "Connect, clients one after another", ("sdk_max", 20, "≤ 20 ms")),
    ("first_connect_p50", "First connect of a fresh process", ("sdk_max", 20, "≤ 20 ms")),
    ("connect_slow_pct", "Share of connects over 50 ms, one after another", None),
    ("first_connect_slow_pct", "Share of first connects over 50 ms", None),
    ("idle_rss_delta", "RSS added by an idle connected client", None),
    ("idle_heap_new", "operator new bytes held by an idle connected client", None),
    ("idle_heap_malloc", "All heap bytes held by an idle connected client", None),
    ("heap_new_per_pending", "operator new bytes per pending request", None),
    ("heap_malloc_per_pending", "All heap bytes per pending request", None),
    ("queue_memory_overhead", "Memory queue overhead per message", ("sdk_max", 64, "≤ 64 B")),
    ("store_append_fsync_interval", "Store append, fsync every 100 ms (default)",
     ("sdk_min", 50000, "≥ 50 000/s")),
    ("store_append_fsync_never", "Store append, no fsync", None),
    ("store_append_fsync_every_message", "Store append, fsync per message", None),
    ("hub_replies_qos0", "enos-hub replies to QoS 0 requests", None),
    ("hub_replies_qos1", "enos-hub replies to QoS 1 requests", None),
    ("replay_drain", "Offline queue replay drain after an outage", None),
    ("live_qos1_callback", "Live QoS 1 callback posts, same window", None),
    ("replay_vs_live_qos1", "Replay drain / live QoS 1 rate", ("sdk_min", 0.8, "≥ 0.8")),
    ("gateway_register_10k", "Gateway: register 10 000 sub-devices (1000 per request)", None),
    ("gateway_topo_add_10k", "Gateway: topology add of 10 000 sub-devices", None),
    ("gateway_login_10k", "Gateway: log in 10 000 sub-devices (batches of 100, command topics subscribed)", None),
    ("gateway_batch_post_10k", "Gateway: one batch-post round for 10 000 sub-devices", None),
    ("gateway_heap_per_sub_device", "Gateway: heap per logged-in sub-device (0 → 10 000)",
     ("sdk_max", 1024, "≤ 1 KB")),
    ("gateway_post_sub_devices", "Gateway posting for 1000 sub-devices, 100 replies awaited", None),
    ("direct_post_same_window", "Direct device posting, same window", None),
    ("gateway_vs_direct_post", "Gateway / direct post rate", None),
]

# Figures the suite should have but no program reports yet: listed as missing, never made up.
ABSENT = []

BENCH_LINE = re.compile(r"^BENCH name=(\S+) sdk=(\S+) paho=(\S+) unit=(\S+) ratio=(\S+)\s*$")
UNIT_TEXT = {"us": "µs", "us/msg": "µs/msg"}


def higher_is_better(unit):
    """Rates (anything per second) and ratios improve upwards; times, sizes and counts downwards."""
    return unit.endswith("/s") or unit == "ratio"


def number(text):
    if text == "-":
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def spread(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "samples": values}


def bar_verdict(bar, sdk, ratio):
    if bar is None:
        return None
    kind, limit, _ = bar
    if kind == "ratio_min":
        return None if ratio is None else ratio >= limit
    if sdk is None:
        return None
    return sdk["median"] <= limit if kind == "sdk_max" else sdk["median"] >= limit


# ---- summarize ----------------------------------------------------------------------------------

def read_samples(path):
    """Lines 'repetition<TAB>program<TAB>BENCH ...' -> {figure: {unit, program, reps: {rep: (sdk, paho)}}}."""
    figures = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            rep, program, bench = line.rstrip("\n").split("\t", 2)
            m = BENCH_LINE.match(bench)
            if not m:
                print(f"report: ignoring a malformed line from {program}: {bench}", file=sys.stderr)
                continue
            name, sdk, paho, unit, _ = m.groups()
            entry = figures.setdefault(name, {"unit": unit, "program": program, "reps": {}})
            if entry["unit"] != unit:
                print(f"report: {name} changed its unit from {entry['unit']} to {unit}", file=sys.stderr)
            entry["reps"][int(rep)] = (number(sdk), number(paho))
    return figures


def figure_record(name, label, bar, sample):
    reps = sample["reps"]
    sdk = spread([s for s, _ in reps.values() if s is not None])
    paho = spread([p for _, p in reps.values() if p is not None])
    ratio = sdk["median"] / paho["median"] if sdk and paho and paho["median"] else None
    # Both sides of a repetition ran in the same program run, seconds apart: their ratio is the
    # fairest per-repetition comparison on a machine whose load drifts.
    paired = [s / p for s, p in reps.values() if s is not None and p]
    return {
        "id": name, "label": label, "unit": sample["unit"], "program": sample["program"],
        "higher_is_better": higher_is_better(sample["unit"]),
        "sdk": sdk, "paho": paho, "ratio": ratio,
        "ratio_spread": {"min": min(paired), "max": max(paired)} if paired else None,
        "bar": {"kind": bar[0], "limit": bar[1], "text": bar[2]} if bar else None,
        "passes": bar_verdict(bar, sdk, ratio),
    }


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def build_facts(build_dir):
    facts = {"compiler": None, "build_type": None}
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt"), encoding="utf-8") as f:
            cache = dict(line.rstrip("\n").split("=", 1) for line in f
                         if "=" in line and not line.startswith(("#", "//")))
        facts["build_type"] = cache.get("CMAKE_BUILD_TYPE:STRING")
        compiler = cache.get("CMAKE_CXX_COMPILER:FILEPATH") or cache.get("CMAKE_CXX_COMPILER:STRING")
        if compiler:
            version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False)
            facts["compiler"] = version.stdout.splitlines()[0] if version.stdout else compiler
    except (OSError, ValueError):
        pass
    return facts


def read_runs(path):
    runs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            rep, program, args, code, seconds, load1, lines = line.rstrip("\n").split("\t")
            runs.append({"repetition": int(rep), "program": program, "args": args.split(),
                         "exit_code": int(code), "seconds": float(seconds),
                         "load_average_1min": float(load1), "bench_lines": int(lines)})
    return runs


def summarize(args):
    samples = read_samples(args.samples)
    known = {name for name, _, _ in FIGURES}
    figures = [figure_record(name, label, bar, samples[name])
               for name, label, bar in FIGURES if name in samples]
    figures += [figure_record(name, name, None, s) for name, s in samples.items() if name not in known]
    runs = read_runs(args.runs)
    with open(args.local_changes, encoding="utf-8") as f:
        local_changes = [line.rstrip("\n") for line in f if line.strip()]
    results = {
        "schema": SCHEMA,
        "run": {
            "date": args.started, "git_commit": args.commit or None, "local_changes": local_changes,
            "mode": args.mode, "only": args.only or None, "repetitions": args.reps,
            "seconds": int(args.elapsed), **build_facts(args.build_dir),
        },
        "machine": {
            "nproc": len(os.sched_getaffinity(0)), "cpu_model": cpu_model(), "kernel": os.uname().release,
            "load_average_start": [float(x) for x in args.load_start.split()],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "figures": figures,
        "missing": [] if args.only else [{"id": i, "label": l, "why": w} for i, l, w in ABSENT],
        "runs": runs,
        # Exit 2 is the programs' way of saying "a bar was missed": their figures are still good.
        "failures": [r for r in runs if r["exit_code"] not in (0, 2) or r["bench_lines"] == 0],
    }
    os.makedirs(args.out_dir, exist_ok=True)
    json_path = os.path.join(args.out_dir, "latest.json")
    with open(json_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(json_path + ".tmp", json_path)

    for fig in figures:
        ratio = "-" if fig["ratio"] is None else f"{fig['ratio']:.3g}"
        print(f"BENCH name={fig['id']} sdk={plain(fig['sdk'])} paho={plain(fig['paho'])} "
              f"unit={fig['unit']} ratio={ratio}")
    print()
    rendered = render_files(results, args.out_dir)
    return 0 if rendered and not results["failures"] else 1


def plain(side):
    if side is None:
        return "-"
    value = side["median"]
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


# ---- Markdown ------------------------------------------------------------------------------------

def fmt(value):
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.3g}"


def fmt_side(side):
    if side is None:
        return "–"
    if side["min"] == side["max"]:
        return fmt(side["median"])
    return f"{fmt(side['median'])} [{fmt(side['min'])}–{fmt(side['max'])}]"


def markdown(results):
    run, machine = results["run"], results["machine"]
    commit = f"`{run['git_commit'][:10]}`" if run["git_commit"] else "an unknown commit"
    if run.get("local_changes"):
        commit += " with uncommitted changes"
    options = " --quick" if run["mode"] == "quick" else ""
    options += f" --only {run['only']}" if run["only"] else ""
    lines = [
        f"Measured {run['date'][:16].replace('T', ' ')} UTC at {commit} on {machine['nproc']} × "
        f"{machine['cpu_model'] or 'unknown CPU'}, load average "
        f"{machine['load_average_start'][0]:.2f} at the start ({run['build_type'] or '?'} build, "
        f"{run['compiler'] or 'unknown compiler'}): "
        f"median [min–max] of {run['repetitions']} runs of `bench/run{options}`.",
        "",
        "| figure | unit | SDK | raw Paho C++ | SDK/Paho | bar | meets bar |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for fig in results["figures"]:
        verdict = {True: "yes", False: "**no**", None: "not measured" if fig["bar"] else ""}[fig["passes"]]
        lines.append(
            f"| {fig['label']} (`{fig['id']}`) | {UNIT_TEXT.get(fig['unit'], fig['unit'])} | "
            f"{fmt_side(fig['sdk'])} | {fmt_side(fig['paho'])} | {fmt(fig['ratio'])} | "
            f"{fig['bar']['text'] if fig['bar'] else ''} | {verdict} |")
    if results["missing"]:
        missing = "; ".join(f"{m['label'].lower()} ({m['why']})" for m in results["missing"])
        lines += ["", f"Not measured yet: {missing}."]
    if results["failures"]:
        failed = ", ".join(f"{r['program']} (repetition {r['repetition']}, exit {r['exit_code']})"
                           for r in results["failures"])
        lines += ["", f"Failed program runs: {failed}."]
    return "\n".join(lines) + "\n"


# ---- SVG chart (gnuplot) -------------------------------------------------------------------------

GREEN, RED, GREY = 0x2E8B57, 0xC0392B, 0x7F8C9A
ROW_PX, PANEL_PX = 30, 110


def advantage(fig, ratio):
    """How many times better the SDK does than raw Paho: above 1 the SDK wins, whichever the direction."""
    return ratio if fig["higher_is_better"] else 1 / ratio


def chart_rows(results):
    """Rows (label, value, low, high, colour, bar mark) of the two panels: versus Paho, and bars used."""
    versus, budget = [], []
    for fig in results["figures"]:
        bar, sdk = fig["bar"], fig["sdk"]
        if fig["ratio"]:
            value = advantage(fig, fig["ratio"])
            ends = [value]
            if fig["ratio_spread"] and fig["ratio_spread"]["min"] > 0:
                ends = [advantage(fig, fig["ratio_spread"][k]) for k in ("min", "max")]
            has_ratio_bar = bar is not None and bar["kind"] == "ratio_min"
            colour = (GREEN if fig["passes"] else RED) if has_ratio_bar else GREY
            versus.append((fig["label"], value, min(ends), max(ends), colour,
                           bar["limit"] if has_ratio_bar else None))
        if bar and bar["kind"] != "ratio_min" and bar["limit"] > 0 and sdk and sdk["min"] > 0:
            # The share of the bar used: at most 1 passes, whichever way the bar points.
            def share(v):
                return v / bar["limit"] if bar["kind"] == "sdk_max" else bar["limit"] / v
            ends = [share(sdk["min"]), share(sdk["max"])]
            budget.append((f"{fig['label']} ({bar['text']})", share(sdk["median"]), min(ends), max(ends),
                           GREEN if fig["passes"] else RED, None))
    return versus, budget


def datablock(name, rows, text):
    out = [f"${name} << EOD"]
    for i, (label, value, low, high, colour, mark) in enumerate(rows):
        out.append(f'{i} "{label}" {value:.6g} {low:.6g} {high:.6g} {colour} {mark or "NaN"} "{text(value)}"')
    out.append("EOD")
    return "\n".join(out)


def panel(name, rows, title, xlabel, top, height):
    values = [v for row in rows for v in row[1:4]] + [1.0] + [row[5] for row in rows if row[5]]
    marks = any(row[5] for row in rows)
    # Bars grow from 1 (parity, or exactly the bar) towards the value on a log scale, so that twice as
    # good and twice as bad look alike; values are written right of the whisker or of 1. Every label
    # gets a real position: gnuplot 5.4 crashes on a labels plot whose points all lie off a log axis.
    mark_plot = (f', \\\n     ${name} using 7:1 with points pt 2 ps 1.6 lw 2.5 lc rgb "#000000" '
                 'title "bar: SDK/Paho at least"') if marks else ""
    return f"""
set origin 0,{top - height:.4f}
set size 1,{height:.4f}
set title "{title}" font ",13"
set xlabel "{xlabel}"
set logscale x
set xrange [{min(values) / 4:.6g}:{max(values) * 4:.6g}]
set yrange [{len(rows) - 0.3}:-0.7]
set ytics scale 0
set grid xtics lc rgb "#dddddd"
set arrow 1 from 1, graph 0 to 1, graph 1 nohead lc rgb "#333333" lw 1.5 dt 2
{"set key top right box opaque" if marks else "unset key"}
plot ${name} using (sqrt($3)):1:(($3<1)?$3:1):(($3<1)?1:$3):($1-0.32):($1+0.32):6:ytic(2) \\
         with boxxyerror lc rgb variable notitle, \\
     ${name} using 3:1:4:5 with xerrorbars pt -1 lc rgb "#222222" notitle, \\
     ${name} using ((($5>1)?$5:1)*1.12):1:8 with labels left font ",10" notitle{mark_plot}
unset arrow 1
"""


def gnuplot_script(results, svg_path):
    versus, budget = chart_rows(results)
    panels = [rows for rows in (versus, budget) if rows]
    height = (len(versus) + len(budget)) * ROW_PX + PANEL_PX * len(panels)
    run = results["run"]
    script = [
        f'set terminal svg size 1100,{height} dynamic noenhanced font "DejaVu Sans,11" '
        'background rgb "white"',
        f'set output "{svg_path}"',
        "set encoding utf8",
        "set style fill solid 0.85 border lc rgb '#444444'",
        "set lmargin 46",
        "set rmargin 4",
        "set multiplot",
        datablock("versus", versus, lambda v: f"{v:.3g}×"),
        datablock("budget", budget, lambda v: f"{v * 100:.3g} %"),
    ]
    top = 1.0
    if versus:
        share = (len(versus) * ROW_PX + PANEL_PX) / height
        script.append(panel(
            "versus", versus,
            f"SDK against raw Paho C++, same runs ({run['date'][:10]}, median of {run['repetitions']}; "
            "whiskers: per-run spread)",
            "times better than raw Paho, right of 1: the SDK does better "
            "(rates: SDK/Paho; times and sizes: Paho/SDK)",
            top, share))
        top -= share
    if budget:
        share = (len(budget) * ROW_PX + PANEL_PX) / height
        script.append(panel("budget", budget, "SDK against its absolute bars (median, whiskers: min to max)",
                            "share of the bar used, left of 1: within the bar", top, share))
    script.append("unset multiplot")
    return "\n".join(script) + "\n"


def render_files(results, out_dir):
    table = markdown(results)
    md_path = os.path.join(out_dir, "latest.md")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(table)
    print(table)
    svg_path = os.path.join(out_dir, "latest.svg")
    script = gnuplot_script(results, svg_path + ".tmp")
    done = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True, check=False)
    if done.returncode != 0:
        kept = os.path.join(out_dir, "latest.gnuplot.tmp")
        with open(kept, "w", encoding="utf-8") as f:
            f.write(script)
        print(f"report: gnuplot failed (exit {done.returncode}) on {kept}:\n{done.stderr}", file=sys.stderr)
        return False
    os.replace(svg_path + ".tmp", svg_path)
    print(f"results: {os.path.join(out_dir, 'latest.json')}, {md_path}, {svg_path}", file=sys.stderr)
    return True


def load_results(path):
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    if not isinstance(results, dict) or results.get("schema") != SCHEMA or not isinstance(
            results.get("figures"), list):
        raise ValueError(f"{path} is not a bench/run results file (schema {SCHEMA})")
    return results


def render(args):
    results = load_results(args.results)
    labels = {name: label for name, label, _ in FIGURES}
    for fig in results["figures"]:  # labels may have been written since the file was
        fig["label"] = labels.get(fig["id"], fig["label"])
    out_dir = args.out_dir or os.path.dirname(os.path.abspath(args.results))
    return 0 if render_files(results, out_dir) else 1


# ---- compare -------------------------------------------------------------------------------------

def compare(args):
    """Flags every SDK median more than the tolerance worse than the baseline's, direction-aware."""
    baseline, current = load_results(args.baseline), load_results(args.current)
    before = {f["id"]: f for f in baseline["figures"]}
    tolerance = args.tolerance / 100
    rows, flagged = [], []
    for fig in current["figures"]:
        old = before.get(fig["id"])
        if not old or not old["sdk"] or not fig["sdk"]:
            now = fmt(fig["sdk"]["median"]) if fig["sdk"] else "–"
            rows.append((fig["id"], fig["unit"], "–", now, "", "", "", "new"))
            continue
        a, b = old["sdk"]["median"], fig["sdk"]["median"]
        # How much worse, as a share of the baseline, whichever way the figure improves.
        if a == 0:
            worse = math.inf if b > 0 and not fig["higher_is_better"] else 0.0
        else:
            worse = (a - b) / a if fig["higher_is_better"] else (b - a) / a
        change = "±0%" if a == b else ("+∞" if a == 0 else f"{(b / a - 1) * 100:+.0f}%")
        paho_change = ""
        if old.get("paho") and fig.get("paho") and old["paho"]["median"]:
            paho_change = f"{(fig['paho']['median'] / old['paho']['median'] - 1) * 100:+.0f}%"
        verdict = "WORSE" if worse > tolerance else ("better" if worse < -tolerance else "same")
        if verdict == "WORSE":
            flagged.append(fig["id"])
        # A median inside the baseline's own min-max range is likely noise: said, still flagged.
        inside = "yes" if old["sdk"]["min"] <= b <= old["sdk"]["max"] else "no"
        rows.append((fig["id"], fig["unit"], fmt(a), fmt(b), change, paho_change, inside, verdict))

    header = ("figure", "unit", "baseline", "now", "change", "Paho change", "in old range", "verdict")
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    commit = (baseline["run"].get("git_commit") or "?")[:10]
    print(f"\nSDK medians against {args.baseline_name or args.baseline} ({baseline['run']['date'][:10]}, "
          f"commit {commit}); flagged: over {args.tolerance:g}% worse. Paho's change shows how much "
          "the machine itself moved; a median still in the baseline's min-max range is likely noise.")
    for row in [header] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    ran = {f["id"] for f in current["figures"]}
    not_run = [i for i in before if i not in ran]
    if not_run:
        print("not run this time: " + ", ".join(not_run))
    if baseline["run"]["mode"] != current["run"]["mode"]:
        print(f"note: the baseline is a {baseline['run']['mode']} run and this one a "
              f"{current['run']['mode']} run: their workloads differ in size, compare like with like")
    if flagged:
        print(f"REGRESSION: {len(flagged)} figure(s) worse by more than {args.tolerance:g}%: "
              + ", ".join(flagged))
        return 3
    print(f"no figure is worse by more than {args.tolerance:g}%")
    return 0


def check(args):
    try:
        load_results(args.results)
    except (OSError, ValueError) as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summarize")
    for option in ("--samples", "--runs", "--out-dir", "--started", "--mode", "--build-dir", "--load-start",
                   "--local-changes"):
        s.add_argument(option, required=True)
    s.add_argument("--commit", default="")
    s.add_argument("--only", default="")
    s.add_argument("--reps", type=int, required=True)
    s.add_argument("--elapsed", type=int, required=True)
    s.set_defaults(run=summarize)
    r = sub.add_parser("render")
    r.add_argument("results")
    r.add_argument("--out-dir")
    r.set_defaults(run=render)
    c = sub.add_parser("compare")
    c.add_argument("baseline")
    c.add_argument("current")
    c.add_argument("--tolerance", type=float, default=15)
    c.add_argument("--baseline-name", help="how to name the baseline in the output")
    c.set_defaults(run=compare)
    k = sub.add_parser("check")
    k.add_argument("results")
    k.set_defaults(run=check)
    args = parser.parse_args()
    try:
        return args.run(args)
    except (OSError, ValueError, KeyError) as e:
        print(f"report: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
