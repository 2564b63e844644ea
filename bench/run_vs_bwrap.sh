#!/bin/sh
# mntns run against bwrap, side by side, at M host mounts (issue 6 target: at
# M=10,000 mntns run is >= 50x faster per run than the equivalent bwrap).
# The M mounts are made inside a private mount namespace this script creates
# (unshare -m --propagation private): the caller's table is never touched.
#
# Usage: bench/run_vs_bwrap.sh [--mntns PATH] [--mounts M] [--runs N] [--bwrap-runs N]
#                              [--classic] [--unprivileged] [--json FILE]
#   --classic       also time `mntns run --strategy classic` (unshare + pivot_root path)
#   --unprivileged  run both as uid/gid 65534 (setpriv) with --unshare-user --unshare-pid
#                   (issue 15 target: >= 20x at M=10,000; mntns's per-user keeper)
#   --json FILE     write the raw results as JSON to FILE
# Prints per-run medians (ms) and the bwrap/mntns ratio. Needs root, bwrap, python3.
set -eu
MNTNS=build/bin/mntns
MOUNTS=10000
RUNS=50
BWRAP_RUNS=5
CLASSIC=0
UNPRIVILEGED=0
JSON=
while [ $# -gt 0 ]; do
  case "$1" in
    --mntns) MNTNS=$2; shift 2 ;;
    --mounts) MOUNTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --bwrap-runs) BWRAP_RUNS=$2; shift 2 ;;
    --classic) CLASSIC=1; shift ;;
    --unprivileged) UNPRIVILEGED=1; shift ;;
    --json) JSON=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run_vs_bwrap.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
MNTNS=$(realpath "$MNTNS")
command -v bwrap >/dev/null || { echo "run_vs_bwrap.sh: bwrap is not installed (apt-get install bubblewrap)" >&2; exit 2; }

exec unshare -m --propagation private python3 - "$MNTNS" "$MOUNTS" "$RUNS" "$BWRAP_RUNS" "$CLASSIC" "$JSON" "$UNPRIVILEGED" <<'PY'
import atexit, ctypes, json, os, shutil, signal, statistics, sys, tempfile, time

mntns, mounts, runs, bwrap_runs, classic, json_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6]
unprivileged = sys.argv[7] == "1"
libc = ctypes.CDLL(None, use_errno=True)
MS_BIND = 4096

def mount(src, dst, fstype, flags):
    if libc.mount(src.encode() if src else None, dst.encode(), fstype.encode() if fstype else None, flags, None) != 0:
        e = ctypes.get_errno()
        sys.exit(f"run_vs_bwrap.sh: mount {src} {dst}: {os.strerror(e)}")

# M host mounts: binds of one small tmpfs, side by side (this namespace only).
# The source is a mount of its own: binding a directory of the mount that gets
# the binds walks all of its children each time (has_locked_children()).
base = tempfile.mkdtemp(prefix="mntns-run-bench-")
# The directory is on the caller's /tmp (the tmpfs on it only in this namespace):
# removed on every way out, sys.exit included.
MNT_DETACH = 2
atexit.register(lambda: (libc.umount2(base.encode(), MNT_DETACH), os.rmdir(base)))
mount("bench", base, "tmpfs", 0)
os.mkdir(f"{base}/src")
mount("bench-source", f"{base}/src", "tmpfs", 0)
for i in range(mounts):
    os.mkdir(f"{base}/m{i}")
    mount(f"{base}/src", f"{base}/m{i}", None, MS_BIND)
with open("/proc/self/mountinfo") as f:
    table = sum(1 for _ in f)

sandbox = ["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
           "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin",
           "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
target = 50
runtime = None
if unprivileged:
    target = 20
    sandbox = ["--unshare-user", "--unshare-pid"] + sandbox
    # The per-user keeper's records: a runtime directory of uid 65534's own,
    # removed (and its keeper killed) on the way out.
    runtime = tempfile.mkdtemp(prefix="mntns-run-bench-runtime-")
    os.chown(runtime, 65534, 65534)

    def stop_keepers():
        records = os.path.join(runtime, "mntns")
        for name in os.listdir(records) if os.path.isdir(records) else []:
            if name.startswith("rootless-") and "." not in name:
                try:
                    with open(os.path.join(records, name)) as f:
                        pid = int(f.read().split()[0])
                    with open(f"/proc/{pid}/comm") as f:
                        if f.read().strip() == "mntns-template":
                            os.kill(pid, signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
        shutil.rmtree(runtime, ignore_errors=True)
    atexit.register(stop_keepers)
as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if unprivileged else []
# name -> (argv, extra environment). On 6.x `mntns run` shares its template
# namespace through a keeper process (MNTNS_TEMPLATE_IDLE); the second entry
# turns that off, so each process copies the host table once, as before.
no_sharing = "mntns run, no keeper (slow path)" if unprivileged else "mntns run, no template sharing"
user_env = {"XDG_RUNTIME_DIR": runtime} if unprivileged else {}
commands = {"mntns run": (as_user + [mntns, "run"] + sandbox, dict(user_env)),
            no_sharing: (as_user + [mntns, "run"] + sandbox, dict(user_env, MNTNS_TEMPLATE_IDLE="0"))}
if classic:
    commands["mntns run --strategy classic"] = (as_user + [mntns, "run", "--strategy", "classic"] + sandbox,
                                                dict(user_env))
commands["bwrap"] = (as_user + ["bwrap"] + sandbox, {})

def measure(argv, extra_env, n):
    # posix_spawnp + waitpid: the least harness time between the samples.
    env = dict(os.environ, **extra_env)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, env)
        _, status = os.waitpid(pid, 0)
        times.append((time.perf_counter() - start) * 1000)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"run_vs_bwrap.sh: {' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return times

results = {}
for name, (argv, extra_env) in commands.items():
    n = bwrap_runs if name != "mntns run" else runs
    # The first run pays what later ones reuse (page cache; for mntns run the
    # keeper's template, built by copying this table once): reported apart.
    first = measure(argv, extra_env, 1)[0]
    t = measure(argv, extra_env, n)
    results[name] = {"runs": n, "median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t),
                     "first_ms": first}

ratio = results["bwrap"]["median_ms"] / results["mntns run"]["median_ms"]
who = "as uid 65534 (setpriv), " if unprivileged else ""
print(f"sandbox creation + /bin/true, {who}{mounts} extra host mounts ({table} in the table), median per run:")
for name, r in results.items():
    print(f"  {name:<32} {r['median_ms']:9.2f} ms   (min {r['min_ms']:.2f}, max {r['max_ms']:.2f}, "
          f"{r['runs']} runs; first run {r['first_ms']:.2f})")
print(f"  bwrap / mntns run                {ratio:9.1f}x  (target >= {target}x)")
if json_path:
    kernel = os.uname().release
    with open(json_path, "w") as f:
        json.dump({"benchmark": "run_vs_bwrap", "unprivileged": unprivileged, "kernel": kernel, "host_mounts": mounts, "table_size": table,
                   "command": sandbox, "results": results, "ratio_bwrap_over_mntns": ratio}, f, indent=2)
        f.write("\n")
PY
