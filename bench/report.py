#!/usr/bin/env python3
"""Turns bench/results/*.json (written by scripts/bench.sh) into BENCHMARKS.md
and PNG plots. Only ratios measured side by side in one run mean anything on
these noisy machines; absolute numbers are shown for scale."""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import subprocess


def load(pattern):
    found = {}
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            found[os.path.basename(path)] = json.load(f)
    return found


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"Linux {platform.release()}, {os.cpu_count()} CPUs ({cpu}), {mem_gib:.0f} GiB"


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def line_plot(plots, name, title, xlabel, ylabel, names, points, alt):
    """Log-log lines, one per series in `names`, through `points` [(x, [y per series])];
    writes plots/NAME.dat and plots/NAME.png and returns the Markdown that shows the PNG."""
    data = os.path.join(plots, f"{name}.dat")
    with open(data, "w") as f:
        for x, ys in points:
            f.write(f"{x} " + " ".join(str(y) for y in ys) + "\n")
    png = os.path.join(plots, f"{name}.png")
    series = ", ".join(f"'{data}' using 1:{i + 2} with linespoints title '{n}'" for i, n in enumerate(names))
    gnuplot(f"""set terminal pngcairo size 800,480
set output '{png}'
set title '{title}'
set xlabel '{xlabel}'
set ylabel '{ylabel}'
set logscale xy
set key top left
plot {series}
""")
    return [f"![{alt}]({os.path.relpath(png)})", ""]


def create_section(results, plots):
    rows = {}
    for name, r in results.items():
        m = re.match(r"create-(\w+)-w(\d+)-m(\d+)\.json", name)
        if m:
            rows[(m.group(1), int(m.group(2)), int(m.group(3)))] = r
    if not rows:
        return []
    sizes = sorted({k[2] for k in rows})
    out = ["## Creating a container mount namespace (`mntns bench create`)", "",
           "Create, use (NS_MNT_GET_INFO) and release one namespace from a small tree, with M extra",
           "mounts in the caller's namespace (set up in a private namespace of its own).", "",
           "| M | strategy | workers | p50 µs | p99 µs | namespaces/s |", "|---|---|---|---|---|---|"]
    for (strategy, workers, m), r in sorted(rows.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        out.append(f"| {m:,} | {r['strategy']} ({strategy}) | {workers} | {r['p50_us']:.0f} | "
                   f"{r['p99_us']:.0f} | {r['per_second']:,.0f} |")
    out += ["", "Targets (ratios from this run):", ""]
    auto = {m: rows.get(("auto", 1, m)) for m in sizes}
    classic = {m: rows.get(("classic", 1, m)) for m in sizes}
    if auto.get(10000) and classic.get(10000):
        ratio = classic[10000]["p50_us"] / auto[10000]["p50_us"]
        out.append(f"- M=10,000: classic p50 / auto p50 = **{ratio:.0f}x** (target >= 100x)")
    if auto.get(30000) and auto.get(0):
        ratio = auto[30000]["p50_us"] / auto[0]["p50_us"]
        out.append(f"- auto p50 at M=30,000 / at M=0 = **{ratio:.2f}** (target <= 1.2)")
    two = [rows[k]["per_second"] for k in rows if k[0] == "auto" and k[1] == 2]
    if two:
        out.append(f"- 2 workers, auto: **{min(two):,.0f}/s** at worst over M in {sizes} (target >= 10,000/s)")
    out.append("")
    if plots:
        points = [(max(m, 1), [rows.get((s, 1, m), {}).get("p50_us", float("nan")) for s in ("auto", "classic")])
                  for m in sizes]
        out += line_plot(plots, "create", "Creating one mount namespace: p50 latency vs extra mounts in the caller",
                         "extra mounts in the caller (M, log; 0 drawn at 1)", "p50 latency (us, log)",
                         ["mntns auto", "classic (unshare+pivot_root)"], points, "namespace creation")
    return out


def empty_section(results):
    rows = []
    for name, r in results.items():
        m = re.match(r"empty-m(\d+)\.json", name)
        if m:
            rows.append((int(m.group(1)), r))
    if not rows:
        return []
    out = ["## Empty mount namespaces (`mntns bench create --empty`)", "",
           "EmptyMountNamespace + NS_MNT_GET_INFO + close, one worker. Each row is one run: the strategy at",
           "0 extra mounts, then at M, then kClassic (unshare + pivot_root + detach of the copy) at M.", "",
           "| M | strategy | p50 µs at 0 | p50 µs at M | at M / at 0 (target <= 1.2) | classic p50 µs | "
           "classic / strategy (target >= 100x) |", "|---|---|---|---|---|---|---|"]
    for m, r in sorted(rows, key=lambda kv: kv[0]):
        out.append(f"| {m:,} | {r['strategy']} | {r['p50_us_at_0']:.0f} | {r['p50_us']:.0f} | "
                   f"**{r['ratio_to_0_mounts']:.2f}** | {r['classic_p50_us']:,.0f} | **{r['classic_ratio']:.0f}x** |")
    out.append("")
    return out


def ls_section(results, plots):
    rows = {}
    for name, r in results.items():
        m = re.match(r"ls-p(\d+)(?:-n\d+)?-m(\d+)\.json", name)
        if m:
            key = (int(r.get("peers", 0)), int(r.get("peer_namespaces", 0)), int(r["host_mounts"]))
            rows[key] = {c["name"]: float(c["p50_ms"]) for c in r["contenders"]}
    if not rows:
        return []
    # Every contender of any row, in the order of the row that has most.
    names = list(max(rows.values(), key=len).keys())
    out = ["## Reading a mount table (`mntns bench ls`)", "",
           "p50 of each contender in ms, measured interleaved in one run per row. In a slave",
           "namespace mountinfo (and statmount's propagate_from) walks the master's whole peer group",
           "for every mount; \"peers each\" counts the members of one group: M/P binds here plus a copy in",
           "each of N other namespaces (`--peer-namespaces N`, as containers holding a copy of a host's",
           "shared mounts). Where the time goes and where the kernel sets the floor:",
           "[docs/ls.md](docs/ls.md).", "",
           "| M | namespace | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]

    def kind(peers, copies, m):
        if not peers:
            return "private"
        groups = "1 peer group" if peers == 1 else f"{peers} peer groups"
        return f"slave, {groups} of {m // peers * (copies + 1):,} peers each"

    for (peers, copies, m), c in sorted(rows.items()):
        out.append(f"| {m:,} | {kind(peers, copies, m)} | " +
                   " | ".join(f"{c[n]:.2f}" if n in c else "-" for n in names) + " |")
    out += ["", "Targets (ratios from this run):", ""]
    if (0, 0, 30000) in rows:
        c = rows[(0, 0, 30000)]
        out.append(f"- M=30,000 private: mntns ls --json / mountinfo read+parse = "
                   f"**{c['mntns ls --json'] / c['mountinfo read+parse']:.2f}** (target <= 1.0); "
                   f"findmnt / mntns ls --json = **{c['findmnt -l -n'] / c['mntns ls --json']:.2f}x** (target >= 4x)")
        if "mntns ls -t tmpfs" in c and "findmnt -l -t tmpfs" in c:
            out.append(f"- M=30,000 private: findmnt -l -t tmpfs / mntns ls -t tmpfs = "
                       f"**{c['findmnt -l -t tmpfs'] / c['mntns ls -t tmpfs']:.2f}x** (target >= 3x)")
        if "statmount calls alone" in c:
            out.append(f"- M=30,000 private: findmnt / statmount calls alone = "
                       f"**{c['findmnt -l -n'] / c['statmount calls alone']:.2f}x**: the most any reader built on "
                       f"statmount could reach in this run (the calls `ls --json` needs, on every core, nothing else)")
    for (peers, copies, m), c in sorted(rows.items()):
        if peers > 0:
            out.append(f"- M={m:,}, {kind(peers, copies, m)}: findmnt / mntns ls = "
                       f"**{c['findmnt -l -n'] / c['mntns ls']:.1f}x** (target >= 10x with >= 100 peer groups)")
    out.append("")
    if plots:
        points = [(m, [c.get(n, float("nan")) for n in names]) for (p, _, m), c in sorted(rows.items()) if p == 0]
        out += line_plot(plots, "ls", "Reading a mount table in a private namespace: p50 vs mounts",
                         "mounts (log)", "p50 (ms, log)", names, points, "mount table reading")
    return out


def watch_section(results):
    r = results.get("watch-m30000.json")
    if not r or "watchers" not in r:
        return []
    pairs = r["events_made"] // 2
    out = ["## Following mount events (`mntns bench watch`)", "",
           f"{pairs:,} mounts and {pairs:,} umounts ({r['events_made']:,} events) in a private namespace of "
           f"{r['watch_table_mounts']:,} mounts, followed by `mntns watch` and `findmnt --poll` side by side.",
           "Each call waits until both watchers have printed its event, so findmnt sees every change",
           "apart. CPU is each watcher process's own (user + system, from /proc/PID/stat before the",
           "events and wait4's rusage after); latency runs from the mount or umount call to the",
           "watcher's line in hand.", "",
           "| watcher | events seen | CPU µs per event | latency p50 µs | latency p99 µs |",
           "|---|---|---|---|---|"]
    for w in r["watchers"]:
        out.append(f"| {w['name']} | {w['events_seen']:,} of {r['events_made']:,} | {w['cpu_us_per_event']:.1f} | "
                   f"{w['latency_us_p50']:.0f} | {w['latency_us_p99']:.0f} |")
    out += ["", f"Live table ({r['backend']} backend) at {r['table_mounts']:,} mounts: "
            f"{r['live_events_seen']:,} of {r['live_events_made']:,} events taken in batches of 100 mounts "
            f"then their umounts; {r['full_reads']} full read(s); equal to a fresh listing afterwards: "
            f"{'yes' if r['live_equals_fresh_listing'] else '**no**'}.", "",
            "| | CPU µs per event |", "|---|---|",
            f"| live table (one statmount per event) | {r['live_cpu_us_per_event']:.2f} |",
            f"| re-reading the table per event | {r['reread_cpu_us_per_event']:,.0f} |",
            "", "Targets (ratios from this run):", ""]
    ours = next(w for w in r["watchers"] if w["name"] == "mntns watch")
    lost = r["events_made"] - ours["events_seen"]
    out.append(f"- findmnt --poll / mntns watch, CPU per event = **{r['findmnt_over_mntns_cpu']:.1f}x** "
               f"(target >= 10x); mntns watch lost **{lost}** events (target 0)")
    out.append(f"- live table at {r['table_mounts']:,} mounts: re-read / live, CPU per event = "
               f"**{r['reread_over_live']:,.0f}x** (target >= 100x)")
    return out + [""]


def statmount_by_fd_section(results):
    r = results.get("statmount_by_fd.json")
    if not r:
        return []
    times = {b["name"]: b["real_time"] for b in r.get("benchmarks", []) if "error_message" not in b}
    out = ["## StatmountByFd (Google Benchmark)", "", "| benchmark | ns per call |", "|---|---|"]
    out += [f"| {n} | {t:.0f} |" for n, t in times.items()]
    if "BM_EmulatedStatmountByFd" in times and "BM_StatmountById" in times:
        ratio = times["BM_EmulatedStatmountByFd"] / times["BM_StatmountById"]
        out += ["", f"- emulated StatmountByFd / statmount by id = **{ratio:.2f}x** (target <= 2x)"]
    return out + [""]


def polyfill_section(results):
    rows = []
    for name, r in results.items():
        m = re.match(r"polyfill-m(\d+)\.json", name)
        if m:
            rows.append((int(m.group(1)), r))
    if not rows:
        return []
    out = ["## The polyfill (`mntns bench polyfill`, docs/polyfill.md)", "",
           "Measured side by side in one run: a tight loop of getppid() in a child without and with the",
           "polyfill's filter (the call is not trapped: the filter's cost alone), and",
           "open_tree(OPEN_TREE_NAMESPACE | AT_RECURSIVE) + close at M host mounts, trapped and answered by",
           "the supervisor, against the library's OpenTreeNamespace() and unshare(CLONE_NEWNS) + pivot_root.", "",
           "| M | getppid ns without | with | with / without (target <= 1.05) | trapped open_tree µs | "
           "library µs | trapped / library (target <= 3) | unshare + pivot_root µs | "
           "classic / trapped (target >= 50x) |", "|---|---|---|---|---|---|---|---|---|"]
    for m, r in sorted(rows, key=lambda kv: kv[0]):
        out.append(f"| {m:,} | {r['getppid_ns_without']:.1f} | {r['getppid_ns_with']:.1f} | "
                   f"**{r['getppid_ratio']:.3f}** | {r['trapped_open_tree_us']:,.0f} | "
                   f"{r['library_open_tree_us']:,.0f} | **{r['trapped_to_library']:.2f}** | "
                   f"{r['classic_us']:,.0f} | **{r['classic_to_trapped']:.0f}x** |")
    floors = [(m, r) for m, r in sorted(rows, key=lambda kv: kv[0]) if "allow_all_ratio" in r]
    if floors:
        out += ["", "The floor of any seccomp-based polyfill: the same getppid loop in a third child whose filter",
                "is one instruction that allows every call (the kernel caches that answer per syscall; what",
                "is left is the filtered syscall entry).", "",
                "| M | allow-all filter ns | allow-all / without | polyfill / allow-all |", "|---|---|---|---|"]
        for m, r in floors:
            out.append(f"| {m:,} | {r['getppid_ns_allow_all']:.1f} | **{r['allow_all_ratio']:.3f}** | "
                       f"**{r['polyfill_to_allow_all']:.3f}** |")
    out.append("")
    return out


def run_section(results, plots):
    rows = {}
    for name, r in results.items():
        m = re.match(r"run-m(\d+)\.json", name)
        if m:
            rows[int(m.group(1))] = r
    if not rows:
        return []
    names = list(next(iter(rows.values()))["results"].keys())
    command = " ".join(next(iter(rows.values()))["command"])
    out = ["## Sandbox creation: `mntns run` against `bwrap` (bench/run_vs_bwrap.sh)", "",
           f"Median ms per run of `mntns run {command}` and the equivalent bwrap command.",
           "On 6.x `mntns run` copies its namespace from a template held by a keeper process",
           "(MNTNS_TEMPLATE_IDLE); \"no template sharing\" turns that off, so every process copies the",
           "host table once. The first run of each (page cache, starting the keeper) is in the JSON.", "",
           "| M | " + " | ".join(names) + " | bwrap / mntns run |", "|---|" + "---|" * (len(names) + 1)]
    for m, r in sorted(rows.items()):
        out.append(f"| {m:,} | " + " | ".join(f"{r['results'][n]['median_ms']:.2f}" for n in names) +
                   f" | {r['ratio_bwrap_over_mntns']:.1f}x |")
    if 10000 in rows:
        ratio = rows[10000]['ratio_bwrap_over_mntns']
        out += ["", f"- M=10,000: bwrap / mntns run = **{ratio:.1f}x** (target >= 50x; see docs/run.md)"]
    out.append("")
    if plots:
        points = [(max(m, 1), [r["results"][n]["median_ms"] for n in names]) for m, r in sorted(rows.items())]
        out += line_plot(plots, "run", "Sandbox creation + /bin/true: median vs extra mounts in the caller",
                         "extra mounts in the caller (M, log; 0 drawn at 1)", "median per run (ms, log)",
                         names, points, "sandbox creation")
    return out


def run_unprivileged_section(results):
    rows = {}
    for name, r in results.items():
        m = re.match(r"run-unprivileged-m(\d+)\.json", name)
        if m:
            rows[int(m.group(1))] = r
    if not rows:
        return []
    names = list(next(iter(rows.values()))["results"].keys())
    command = " ".join(next(iter(rows.values()))["command"])
    out = ["## Unprivileged sandbox creation: `mntns run` against `bwrap` (bench/run_vs_bwrap.sh --unprivileged)", "",
           f"Median ms per run of `mntns run {command}` and the equivalent bwrap command, both as",
           "uid 65534 (setpriv). `mntns run` joins the per-user keeper's namespaces (docs/run.md,",
           "\"Unprivileged runs\"); \"no keeper\" copies the caller's table per run, as bwrap does.", "",
           "| M | " + " | ".join(names) + " | bwrap / mntns run |", "|---|" + "---|" * (len(names) + 1)]
    for m, r in sorted(rows.items()):
        out.append(f"| {m:,} | " + " | ".join(f"{r['results'][n]['median_ms']:.2f}" for n in names) +
                   f" | {r['ratio_bwrap_over_mntns']:.1f}x |")
    if 10000 in rows:
        ratio = rows[10000]['ratio_bwrap_over_mntns']
        out += ["", f"- M=10,000, unprivileged: bwrap / mntns run = **{ratio:.1f}x** (target >= 20x)"]
    out.append("")
    return out


def bwrap_binds_section(results):
    r = results.get("bwrap-binds.json")
    if not r:
        return []
    small, large = r["small"], r["large"]
    out = ["## Many `--bind` options: bwrap against mntns's bwrap entry (bench/bwrap_binds.sh)", "",
           "Median ms per run (as root) of `bwrap --ro-bind /usr /usr ... --tmpfs /d --bind SRC/i /d/i ...",
           "-- /bin/true` with N binds, under Debian's bwrap and under mntns invoked as `bwrap`.", "",
           "| binds | bwrap ms | mntns ms | bwrap / mntns |", "|---|---|---|---|"]
    for n in (small, large):
        out.append(f"| {n:,} | {r[f'bwrap_{n}']:.1f} | {r[f'mntns_{n}']:.1f} | "
                   f"{r[f'bwrap_{n}'] / r[f'mntns_{n}']:.1f}x |")
    growth = r[f"mntns_{large}"] / r[f"mntns_{small}"]
    out += ["", f"- {large:,} binds: bwrap / mntns = **{r[f'bwrap_{large}'] / r[f'mntns_{large}']:.1f}x** (target >= 20x)",
            f"- mntns {large:,} / {small:,} binds = **{growth:.1f}x** (linear would be {large / small:.0f}x; "
            "target <= 12x)", ""]
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", default="bench/results")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    parser.add_argument("--plots", default="bench/plots")
    args = parser.parse_args()
    os.makedirs(args.plots, exist_ok=True)
    results = load(os.path.join(args.results, "*.json"))
    doc = ["# mntns benchmarks", "",
           "Generated by `make bench` (scripts/bench.sh, bench/report.py) from bench/results/*.json;",
           "do not edit by hand.", "",
           f"- Date: {datetime.date.today().isoformat()}",
           f"- Machine: {machine()}", "",
           "These machines are noisy: compare the ratios within one table, not absolute times",
           "across runs.", ""]
    doc += create_section(results, args.plots)
    doc += empty_section(results)
    doc += run_section(results, args.plots)
    doc += run_unprivileged_section(results)
    doc += bwrap_binds_section(results)
    doc += ls_section(results, args.plots)
    doc += watch_section(results)
    doc += statmount_by_fd_section(results)
    doc += polyfill_section(results)
    with open(args.markdown, "w") as f:
        f.write("\n".join(doc))


if __name__ == "__main__":
    main()
