"""scripts/bench's measuring, statistics and Markdown (run by scripts/bench, as root).

The timing loop (monotonic clock in ns around each command, the command run as the test
user), the statistics and the Markdown:
  bench.py run MODE OUT.json     time MODE's variants, interleaved; raw times to OUT.json
  bench.py table OUT.json...     Markdown tables of medians, min/max and ratios
  bench.py own OUT.json...       the plugin's own share each task reported
  bench.py targets OUT.json...   the issue's targets next to what was measured
  bench.py overlay OUT.json...   what the overlay root costs: RootOverlay=auto against off
  bench.py where OUT.json        where a spank-oci run's time goes, from kernel tracepoints
  bench.py phases OUT.json       the table of it
  bench.py section NAME FILE     replace section NAME of $BENCH_OUT by FILE, keep the rest
Environment (set by scripts/bench): BENCH_DIR, BENCH_REPO, BENCH_OUT, BENCH_TAG,
BENCH_REPS, BENCH_IMAGE_REPS, BENCH_SHM, BENCH_JOB, BENCH_IMAGE_RUNTIME,
SPANK_OCI_TEST_USER, SLURM_CONF.
"""
import json, os, pwd, random, re, statistics, subprocess, sys, time

E = os.environ
D, W, REPO = E["BENCH_DIR"], E["BENCH_DIR"] + "/bench", E["BENCH_REPO"]
CLI = REPO + "/build/spank-oci"
LIVE_CONF, PLUGSTACK = D + "/spank-oci.conf", D + "/plugstack.conf"
OCI_CONF = D + "/slurm/oci.conf"  # Slurm's own --container when present
# what a task prints with SPANK_OCI_TIMING=1: its own share, and the runtime's and
# container's time
TIMING = re.compile(r"^spank-oci: timing: task \d+: spank-oci ([0-9.]+) ms \(CPU ([0-9.]+) ms\), "
                    r"runtime and container ([0-9.]+) ms$", re.M)


def put(path, text):
    """Atomically: a step reads the old file or the new one, never half of one."""
    if text is None:
        if os.path.lexists(path):
            os.unlink(path)
        return
    if os.path.exists(path) and open(path).read() == text:
        return
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o644)
    os.rename(path + ".tmp", path)


def slurm_files(mode):
    """The node's configuration for a variant: spank-oci with RUNTIME, or native."""
    line = open(W + "/plugstack.spank-oci").read()
    if mode == "native":
        return {PLUGSTACK: "", OCI_CONF: open(W + "/oci.conf.native").read(),
                LIVE_CONF: open(W + "/spank-oci-runc.conf").read()}
    return {PLUGSTACK: line, OCI_CONF: None,
            LIVE_CONF: open(f"{W}/spank-oci-{mode}.conf").read()}


def layer_blobs(layout, tag):
    idx = json.load(open(layout + "/index.json"))
    m = [d for d in idx["manifests"]
         if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
    man = json.load(open(layout + "/blobs/sha256/" + m["digest"][7:]))
    return [layout + "/blobs/sha256/" + l["digest"][7:] for l in man["layers"]]


def variants(mode):
    job, b = E.get("BENCH_JOB", ""), W + "/bundle"
    is_busybox = ["sh", "-c", "grep -qx ID=spank-oci-busybox /etc/os-release"]

    def srun(*a):
        return ["srun", "--jobid=" + job, *a]

    v = []
    if mode == "slurm":
        for n in (1, 32):
            nt, s = ([], "") if n == 1 else (["-n", str(n)], f" -n {n}")
            cont = f"--container={b}"
            v += [
                dict(id=f"bare{n}", label=f"bare `srun{s} true`", argv=srun(*nt, "true"),
                     files=slurm_files("runc"), base=f"bare{n}"),
                dict(id=f"runc{n}", label=f"spank-oci + runc: `srun{s} --container=B true`",
                     argv=srun(*nt, cont, "true"), check=srun(*nt, cont, *is_busybox),
                     files=slurm_files("runc"), base=f"bare{n}"),
                dict(id=f"crun{n}", label=f"spank-oci + crun: `srun{s} --container=B true`",
                     argv=srun(*nt, cont, "true"), check=srun(*nt, cont, *is_busybox),
                     files=slurm_files("crun"), base=f"bare{n}"),
                dict(id=f"shared{n}",
                     label=f"spank-oci + runc, shared mode: `srun{s} --container=B true`",
                     argv=srun(*nt, cont, "true"), check=srun(*nt, cont, *is_busybox),
                     files=slurm_files("runc-shared"), base=f"bare{n}"),
                dict(id=f"cshared{n}",
                     label=f"spank-oci + crun, shared mode: `srun{s} --container=B true`",
                     argv=srun(*nt, cont, "true"), check=srun(*nt, cont, *is_busybox),
                     files=slurm_files("crun-shared"), base=f"bare{n}"),
                dict(id=f"nbare{n}", label=f"bare `srun{s} true`, Slurm's oci.conf in place",
                     argv=srun(*nt, "true"), files=slurm_files("native"), base=f"nbare{n}"),
                dict(id=f"native{n}",
                     label=f"Slurm 22.05 --container + runc: `srun{s} --container=B true`",
                     argv=srun(*nt, cont, "true"), check=srun(*nt, cont, *is_busybox),
                     files=slurm_files("native"), base=f"nbare{n}"),
            ]
    elif mode == "share":
        # per-task files and runtime state on tmpfs (the default ContainerPath), and again
        # under the bench's dir (ext4 or whatever /tmp is): removing files the runtime
        # wrote with O_SYNC costs a lot more on a disk file system
        for fs, s, c in (("", E["BENCH_SHM"] + "/share", ""), ("-disk", W + "/share", "-disk")):
            for rt in ("runc", "crun"):
                if rt == "runc":
                    alone = ["/usr/sbin/runc", "--root", s + "/runc", "--log", s + "/runc.log",
                             "--log-format", "json", "run", "--pid-file", s + "/runc.pid",
                             "--bundle", W + "/share/runc-bundle", "bench-runc"]
                else:
                    alone = ["/usr/bin/crun", "--root=" + s + "/crun",
                             "--log=file:" + s + "/crun.log", "--log-format=json",
                             "--cgroup-manager=disabled", "run", "--pid-file", s + "/crun.pid",
                             "--bundle", W + "/share/crun-bundle", "bench-crun"]
                where = " (disk)" if fs else " (tmpfs)"
                v += [
                    dict(id=f"cli-{rt}{fs}",
                         label=f"`spank-oci run --config {rt}-share{c}.conf --bundle B -- true`{where}",
                         argv=[CLI, "run", "--config", f"{W}/spank-oci-{rt}-share{c}.conf",
                               "--bundle", b, "--", "true"], cwd=s, base=f"alone-{rt}{fs}"),
                    dict(id=f"alone-{rt}{fs}", label=f"`{rt} run` of the same config.json{where}",
                         argv=alone, cwd=s, base=f"alone-{rt}{fs}"),
                ]
        v.append(dict(id="cli-check", label="`spank-oci check --config runc-share.conf`",
                      argv=[CLI, "check", "--config", f"{W}/spank-oci-runc-share.conf"],
                      cwd=E["BENCH_SHM"] + "/share", base="cli-check"))
    elif mode == "overlay":
        # the container's root on the kernel's overlay (RootOverlay=auto) against the image
        # directory itself (off), per runtime, next to bare srun in the same rounds; the
        # untimed first round proves which root each variant got
        root_is = {"auto": "grep -q '^overlay / overlay .*userxattr' /proc/self/mounts",
                   "off": "! grep -q '^[^ ]* / overlay ' /proc/self/mounts"}
        for n in (1, 32):
            nt, s = ([], "") if n == 1 else (["-n", str(n)], f" -n {n}")
            cont = f"--container={b}"
            v.append(dict(id=f"bare{n}", label=f"bare `srun{s} true`", argv=srun(*nt, "true"),
                          files=slurm_files("runc-off"), base=f"bare{n}", n=n))
            for rt in ("runc", "crun"):
                for ov in ("off", "auto"):
                    check = "grep -qx ID=spank-oci-busybox /etc/os-release && " + root_is[ov]
                    v.append(dict(
                        id=f"{rt}-{ov}{n}",
                        label=f"spank-oci + {rt}, RootOverlay={ov}: `srun{s} --container=B true`",
                        argv=srun(*nt, cont, "true"), check=srun(*nt, cont, "sh", "-c", check),
                        files=slurm_files(f"{rt}-{ov}"), base=f"bare{n}", n=n, rt=rt,
                        overlay=ov, pair=f"{rt}-off{n}"))
    elif mode == "overlay-cli":
        # the same without Slurm: spank-oci run, per-task files on tmpfs, the identity a
        # task gets (runc: the user's own ids through newuidmap/newgidmap; crun: direct)
        root_is = {"auto": "grep -q '^overlay / overlay .*userxattr' /proc/self/mounts",
                   "off": "! grep -q '^[^ ]* / overlay ' /proc/self/mounts"}
        s = E["BENCH_SHM"] + "/share"
        for rt in ("runc", "crun"):
            for ov in ("off", "auto"):
                conf = f"{W}/spank-oci-{rt}-{ov}.conf"  # the Slurm variants' own
                v.append(dict(
                    id=f"cli-{rt}-{ov}",
                    label=f"`spank-oci run --config {rt}-{ov}.conf --bundle B -- true`",
                    argv=[CLI, "run", "--config", conf, "--bundle", b, "--", "true"],
                    check=[CLI, "run", "--config", conf, "--bundle", b, "--", "sh", "-c",
                           root_is[ov]],
                    cwd=s, base=f"cli-{rt}-off", n=1, rt=rt, overlay=ov,
                    pair=f"cli-{rt}-off"))
    elif mode == "unpack":
        layout, c = W + "/img/layout", W + "/img/cold"
        ref = f"{layout}:{E['BENCH_TAG']}"
        tar = 'mkdir "$0" && for b; do tar -xzf "$b" -C "$0"; done'
        v = [
            dict(id="spank", label="`spank-oci cache add L:tag` (empty ImageCache)",
                 argv=[CLI, "cache", "add", "--config", W + "/spank-oci-cold.conf", ref],
                 clean=c + "/cache", base="spank"),
            dict(id="umoci", label="`umoci unpack --rootless --image L:tag OUT`",
                 argv=["umoci", "unpack", "--rootless", "--image", ref, c + "/umoci"],
                 clean=c + "/umoci", base="spank"),
            dict(id="tar", label="`tar -xzf` of each layer blob in order",
                 argv=["sh", "-c", tar, c + "/tar", *layer_blobs(layout, E["BENCH_TAG"])],
                 clean=c + "/tar", base="spank"),
        ]
        for x in v:
            x["cwd"] = c
    elif mode == "hit":
        rt, layout = E["BENCH_IMAGE_RUNTIME"], W + "/img/layout"
        v = [
            dict(id="bare", label="bare `srun true`", argv=srun("true"), base="bare"),
            dict(id="bundle", label=f"`srun --container=BUNDLE true` (umoci-unpacked bundle, {rt})",
                 argv=srun(f"--container={W}/img/unpacked", "true"),
                 check=srun(f"--container={W}/img/unpacked", "sh", "-c", "test -f /etc/bench-image"),
                 base="bare"),
            dict(id="layout", label=f"`srun --container=L:tag true` (cache hit, {rt})",
                 argv=srun(f"--container={layout}:{E['BENCH_TAG']}", "true"),
                 check=srun(f"--container={layout}:{E['BENCH_TAG']}", "sh", "-c",
                            "test -f /etc/bench-image"), base="bundle"),
        ]
        for x in v:
            x["files"] = slurm_files(rt)
    return v


def runner():
    user = E["SPANK_OCI_TEST_USER"]
    pw = pwd.getpwnam(user)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": pw.pw_dir, "USER": user,
           "LOGNAME": user, "LANG": "C.UTF-8", "SLURM_CONF": E["SLURM_CONF"],
           "SPANK_OCI_TIMING": "1"}  # each container task reports its own share
    groups = os.getgrouplist(user, pw.pw_gid)

    def run(argv, cwd, err):
        """Runs argv as the test user; gives (ns, exit status). Only the child is timed."""
        t0 = time.monotonic_ns()
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, user=pw.pw_uid,
                             group=pw.pw_gid, extra_groups=groups)
        rc = p.wait()  # a blocking waitpid (wait with a timeout would poll)
        return time.monotonic_ns() - t0, rc
    return run


def why(errfile, start):
    """The failure's stderr, plus slurmd's errors for its step when srun names one."""
    text = open(errfile).read()[start:]
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    reason = "; ".join(l for l in lines if "error" in l.lower())[:300] or "; ".join(lines[-2:])
    m = re.search(r"StepId=(\d+\.\d+)", text)
    if m and os.path.exists(D + "/slurm/slurmd.log"):
        tag = f"[{m.group(1)}] error: "
        errs = [l.split(tag, 1)[1].strip() for l in open(D + "/slurm/slurmd.log") if tag in l]
        if errs:
            reason += " (slurmd: " + "; ".join(dict.fromkeys(errs)) + ")"
    return reason or "exit status non-zero, no message"


def cmd_run(mode, out):
    reps = int(E["BENCH_IMAGE_REPS"] if mode == "unpack" else E["BENCH_REPS"])
    vs = variants(mode)
    run = runner()
    errpath = f"{W}/{mode}.stderr"
    err = open(errpath, "w")
    pw = pwd.getpwnam(E["SPANK_OCI_TEST_USER"])
    os.fchown(err.fileno(), pw.pw_uid, pw.pw_gid)  # runc fails on stdio the user lacks

    def prepare(x):
        for path, text in x.get("files", {}).items():
            put(path, text)
        if "clean" in x:
            subprocess.run(["rm", "-rf", x["clean"]], check=True)
            os.sync()

    for x in vs:  # untimed probe: warms caches, checks it runs where it should
        x.update(times=[], rounds=[], failed=0, refused=None)
        prepare(x)
        start = err.tell()
        err.flush()
        _, rc = run(x.get("check", x["argv"]), x.get("cwd", D + "/work"), err)
        err.flush()
        if rc != 0:
            x["refused"] = why(errpath, start)
            print(f"bench: {x['id']}: refused: {x['refused']}", file=sys.stderr)
    live = [x for x in vs if x["refused"] is None]
    for x in live:
        x.update(own=[], cpu=[], inner=[], own_rounds=[])
    for r in range(reps):
        # round-robin: every variant once per repetition, the order rotated by one each
        # repetition so each variant runs as often at each place in the round
        k = r % len(live) if live else 0
        for x in live[k:] + live[:k]:
            prepare(x)
            start = os.lseek(err.fileno(), 0, os.SEEK_CUR)
            ns, rc = run(x["argv"], x.get("cwd", D + "/work"), err)
            if rc == 0:
                x["times"].append(ns)
                x["rounds"].append(r)
                with open(errpath) as f:
                    f.seek(start)
                    for m in TIMING.finditer(f.read()):
                        x["own"].append(float(m.group(1)))
                        x["cpu"].append(float(m.group(2)))
                        x["inner"].append(float(m.group(3)))
                        x["own_rounds"].append(r)
            else:
                x["failed"] += 1
        print(f"bench: {mode}: repetition {r + 1}/{reps} done", file=sys.stderr)
    for x in vs:
        x.pop("files", None)
    json.dump({"mode": mode, "reps": reps, "variants": vs}, open(out, "w"), indent=1)


def stats(x):
    t = [v / 1e6 for v in x["times"]]
    return (statistics.median(t), min(t), max(t)) if t else None


def fmt(ms):
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}"


def cmd_table(files):
    res = [json.load(open(f)) for f in files]
    for r in res:
        by = {x["id"]: x for x in r["variants"]}
        print("| id | what | median ms | min ms | max ms | ratio to | reps |")
        print("|---|---|---:|---:|---:|---|---:|")
        for x in r["variants"]:
            if x["refused"]:
                print(f"| {x['id']} | {x['label']} | refused | | | | 0 |")
                continue
            s = stats(x)
            b = None if by[x["base"]]["refused"] else stats(by[x["base"]])
            ok = f"{len(x['times'])}" + (f" ({x['failed']} failed)" if x["failed"] else "")
            if s is None:
                print(f"| {x['id']} | {x['label']} | all failed | | | | {ok} |")
                continue
            ratio = f"{s[0] / b[0]:.2f}x `{x['base']}`" if b and x["base"] != x["id"] else ""
            print(f"| {x['id']} | {x['label']} | {fmt(s[0])} | {fmt(s[1])} | {fmt(s[2])} |"
                  f" {ratio} | {ok} |")
        refused = [x for x in r["variants"] if x["refused"]]
        if refused:
            print()
            for x in refused:
                print(f"- `{x['id']}` refused: {x['refused']}")
        print()


def cmd_targets(files):
    v, raw = {}, {}
    for f in files:
        for x in json.load(open(f))["variants"]:
            v[x["id"]] = stats(x) if not x["refused"] else None
            raw[x["id"]] = dict(zip(x["rounds"], x["times"]))

    def med(i):
        return v[i][0] if v.get(i) else None

    def ratio(a, b):
        return med(a) / med(b) if med(a) and med(b) else None

    def show(val, unit):
        return "not measured" if val is None else f"{val:.2f}{unit}"

    print("| target | measured | met |")
    print("|---|---:|---|")
    if "bare1" in v:
        r = ratio("crun1", "bare1")
        print(f"| spank-oci + crun, 1 task: at most 1.4x bare srun | {show(r, 'x')} |"
              f" {'' if r is None else ('yes' if r <= 1.4 else 'no')} |")
        a, b = med("runc1"), med("native1")
        print(f"| spank-oci + runc faster than Slurm 22.05's --container + runc, 1 task |"
              f" {show(a, ' ms')} vs {show(b, ' ms')} |"
              f" {'' if a is None or b is None else ('yes' if a < b else 'no')} |")
        for i, rt in (("shared32", "runc"), ("cshared32", "crun")):
            r = ratio(i, "bare32")
            print(f"| `srun -n 32 --container` in shared mode (spank-oci + {rt}): at most 1.5x "
                  f"bare `srun -n 32` | {show(r, 'x')} |"
                  f" {'' if r is None else ('yes' if r <= 1.5 else 'no')} |")
        for rt in ("crun", "runc"):
            r = ratio(f"{rt}32", "bare32")
            print(f"| for comparison, `srun -n 32 --container` with one container per task "
                  f"(spank-oci + {rt}) | {show(r, 'x')} | |")
    own, cpu = {}, {}
    for f in files:
        for x in json.load(open(f))["variants"]:
            if x.get("own"):
                own[x["id"]] = statistics.median(x["own"])
                cpu[x["id"]] = statistics.median(x["cpu"])
    # one task per step: the task has the CPUs to itself, its wall time is its work
    for i in ("crun1", "runc1", "cshared1", "shared1"):
        if i in own:
            print(f"| plugin's own share per task, under 2 ms: `{i}` (median over the runs,"
                  f" measured in the task) | {own[i]:.2f} ms |"
                  f" {'yes' if own[i] < 2 else 'no'} |")
    # 32 tasks on this machine's CPUs: wall time is mostly waiting for a CPU
    for i in ("crun32", "runc32", "cshared32", "shared32"):
        if i in cpu:
            print(f"| plugin's own share per task, under 2 ms: `{i}`, CPU time (median over"
                  f" its tasks; wall time {own[i]:.2f} ms, 32 tasks sharing"
                  f" {os.cpu_count()} CPUs) | {cpu[i]:.2f} ms |"
                  f" {'yes' if cpu[i] < 2 else 'no'} |")


def boot_ci(stat, samples, n=2000, seed=7):
    """A 95% percentile bootstrap interval of stat over the samples (each resampled)."""
    rnd = random.Random(seed)
    got = sorted(stat(*[[rnd.choice(x) for _ in x] for x in samples]) for _ in range(n))
    return got[int(0.025 * n)], got[int(0.975 * n) - 1]


def paired_ms(x, y):
    """y - x in ms for each round both ran (the same round: the same minute, the same load)."""
    a, b = dict(zip(x["rounds"], x["times"])), dict(zip(y["rounds"], y["times"]))
    return [(b[r] - a[r]) / 1e6 for r in sorted(a.keys() & b.keys())]


def diff_row(d, ci, per=1):
    return f"{d / per:+.2f} ({ci[0] / per:+.2f} .. {ci[1] / per:+.2f})"


def cmd_overlay(files):
    """RootOverlay=auto against off, per runtime and task count: srun latency as the rounds
    pair them, and the plugin's own share per task (SPANK_OCI_TIMING=1)."""
    by = {}
    for f in files:
        for x in json.load(open(f))["variants"]:
            by[x["id"]] = x
    rows, verdict = [], []
    print("| runtime | tasks | what | off: median ms | auto: median ms | auto - off, ms"
          " (95% interval) | per container, ms |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for x in by.values():
        if x.get("overlay") != "auto" or x["refused"] or by[x["pair"]]["refused"]:
            continue
        off, n, rt = by[x["pair"]], x["n"], x["rt"]
        where = "spank-oci run" if x["id"].startswith("cli-") else "srun"
        d = paired_ms(off, x)
        if d:
            med = statistics.median(d)
            ci = boot_ci(statistics.median, [d])
            print(f"| {rt} | {n} | {where} latency (`{x['id']}` - `{off['id']}`, median of the"
                  f" {len(d)} paired rounds) | {fmt(stats(off)[0])} | {fmt(stats(x)[0])} |"
                  f" {diff_row(med, ci)} | {diff_row(med, ci, n)} |")
            verdict.append((rt, n, f"{where} latency" + (f", difference / {n}" if n > 1 else ""),
                            med / n, ci[1] / n))
        if x.get("own") and off.get("own"):
            a, b = off["own"], x["own"]
            med = statistics.median(b) - statistics.median(a)
            ci = boot_ci(lambda p, q: statistics.median(q) - statistics.median(p), [a, b])
            print(f"| {rt} | {n} | plugin's own share per task, wall ({len(a)} and {len(b)}"
                  f" tasks) | {statistics.median(a):.2f} | {statistics.median(b):.2f} |"
                  f" {diff_row(med, ci)} | {diff_row(med, ci)} |")
            if n == 1:
                verdict.append((rt, n, f"own share per task ({where})", med, ci[1]))
            a, b = off["cpu"], x["cpu"]
            med = statistics.median(b) - statistics.median(a)
            ci = boot_ci(lambda p, q: statistics.median(q) - statistics.median(p), [a, b])
            print(f"| {rt} | {n} | plugin's own share per task, CPU of the task's process"
                  f" | {statistics.median(a):.2f} | {statistics.median(b):.2f} |"
                  f" {diff_row(med, ci)} | {diff_row(med, ci)} |")
    print()
    print("| runtime | tasks | the overlay's cost per container, from | ms | upper end of"
          " the 95% interval, ms | at most 1 ms |")
    print("|---|---:|---|---:|---:|---|")
    for rt, n, what, med, hi in sorted(verdict, key=lambda v: (v[0], v[1])):
        met = "yes" if hi <= 1 else ("no" if med > 1 else "not shown")
        print(f"| {rt} | {n} | {what} | {med:+.2f} | {hi:+.2f} | {met} |")


# Kernel tracepoints that mark a spank-oci run's phases: its processes (fork, exec, exit),
# its waits, and the namespace and mount calls. perf record costs about a microsecond per
# event; it sees nothing inside newuidmap/newgidmap (setuid), only when they start and end.
WHERE_EVENTS = ["syscalls:sys_enter_clone", "syscalls:sys_enter_clone3",
                "sched:sched_process_fork", "sched:sched_process_exec",
                "syscalls:sys_enter_exit_group", "syscalls:sys_exit_wait4",
                "syscalls:sys_enter_unshare", "syscalls:sys_enter_mount",
                "syscalls:sys_enter_umount"]
PERF_LINE = re.compile(r"^\s*(\S+)\s+(\d+)/\d+\s+([0-9.]+):\s+(\S+):\s?(.*)$")
CLONE_NEWUSER = 0x10000000


def phases_of(lines, cli):
    """One traced run: the phases of the spank-oci process (ms), from perf script lines."""
    ev = []
    for line in lines:
        m = PERF_LINE.match(line)
        if m:
            ev.append((float(m.group(3)) * 1e3, int(m.group(2)), m.group(4), m.group(5)))
    top = next(((t, pid) for t, pid, e, a in ev
                if e == "sched:sched_process_exec" and a.startswith(f"filename={cli} ")), None)
    if top is None:
        return None
    t0, p = top
    end, kids, order, clone = None, {}, [], None
    for t, pid, e, a in ev:
        if t < t0:
            continue
        if pid == p and e.startswith("syscalls:sys_enter_clone"):
            clone = t  # a child's time starts with the fork's, in the parent
        elif pid == p and e == "sched:sched_process_fork":
            c = int(re.search(r"child_pid=(\d+)", a).group(1))
            kids[c] = dict(fork=clone if clone is not None else t, ev=[])
            clone = None
            order.append(c)
        elif pid == p and e == "syscalls:sys_exit_wait4":
            c = int(a.split()[-1], 16)
            if c in kids and "done" not in kids[c]:
                kids[c]["done"] = t
        elif pid == p and e == "syscalls:sys_enter_exit_group":
            end = t
        elif pid in kids:
            kids[pid]["ev"].append((t, e, a))
    if end is None or any("done" not in k for k in kids.values()):
        return None
    ph = {"total": end - t0}

    def add(name, ms):
        ph[name] = ph.get(name, 0.0) + ms

    maps = []
    for c in order:
        k = kids[c]
        execs = [(t, a) for t, e, a in k["ev"] if e == "sched:sched_process_exec"]
        calls = [(e, a) for t, e, a in k["ev"]]
        life = k["done"] - k["fork"]
        if execs and re.search(r"/(runc|crun) ", execs[0][1] + " "):
            add("runtime: spank-oci's child, fork to the runtime's exec", execs[0][0] - k["fork"])
            add("runtime: the runtime and the container, exec to reaped", k["done"] - execs[0][0])
        elif any(e == "syscalls:sys_enter_unshare" and int(a.split()[-1], 16) & CLONE_NEWUSER
                 for e, a in calls):
            add("user namespace: its child, fork to reaped", life)
        elif not k["ev"]:
            maps.append(k)  # setuid: perf sees nothing in newuidmap/newgidmap
        elif any(e == "syscalls:sys_enter_umount" for e, a in calls):
            add("removal: the namespace's child, fork to reaped (umount, upper and work)", life)
        elif any(e == "syscalls:sys_enter_mount" for e, a in calls):
            add("overlay: the namespace's child, fork to reaped (mount)", life)
        else:
            add("other children, fork to reaped", life)
    if maps:
        add("user namespace: of that, newuidmap + newgidmap, first fork to last reaped",
            max(k["done"] for k in maps) - min(k["fork"] for k in maps))
    # spank-oci's own process, apart from its children: before the first, after the last
    # and between them
    first = min((k["fork"] for k in kids.values()), default=end)
    last = max((k["done"] for k in kids.values()), default=end)
    helpers = sum(v for n, v in ph.items() if n != "total" and "of that" not in n)
    ph["spank-oci's process: exec to its first child (configuration, config.json, the"
       " task's directory; auto: upper, work and mount points)"] = first - t0
    ph["spank-oci's process: its last child reaped to exit_group (removing the task's"
       " directory)"] = end - last
    ph["spank-oci's process: between its children"] = (last - first) - helpers
    return ph


def cmd_where(out):
    """Each CLI variant of the overlay mode, traced: BENCH_REPS rounds, interleaved."""
    vs = variants("overlay-cli")
    user = E["SPANK_OCI_TEST_USER"]
    pw = pwd.getpwnam(user)
    data = W + "/where.perf"
    as_user = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
               "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", f"HOME={pw.pw_dir}",
               f"USER={user}", f"LOGNAME={user}", "LANG=C.UTF-8"]
    for x in vs:
        x["phases"] = []
    for r in range(int(E["BENCH_REPS"]) + 1):  # round 0 warms the caches, untimed
        k = r % len(vs)
        for x in vs[k:] + vs[:k]:
            perf = ["perf", "record", "-q", "-o", data]
            for e in WHERE_EVENTS:
                perf += ["-e", e]
            subprocess.run(perf + ["--"] + as_user + x["argv"], cwd=x["cwd"], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            text = subprocess.run(["perf", "script", "-i", data, "-F",
                                   "comm,pid,tid,time,event,trace"], check=True,
                                  capture_output=True, text=True).stdout
            ph = phases_of(text.splitlines(), CLI)
            if ph is None:
                sys.exit(f"bench: where: {x['id']}: no complete trace of spank-oci run")
            if r > 0:
                x["phases"].append(ph)
        print(f"bench: where: repetition {r}/{E['BENCH_REPS']} done", file=sys.stderr)
    os.unlink(data)
    json.dump({"mode": "where", "reps": int(E["BENCH_REPS"]),
               "variants": [dict(id=x["id"], label=x["label"], rt=x["rt"], overlay=x["overlay"],
                                 phases=x["phases"]) for x in vs]}, open(out, "w"), indent=1)


def cmd_phases(path):
    """Per runtime: each phase's median with RootOverlay=off and auto, and the difference."""
    res = json.load(open(path))
    by = {(x["rt"], x["overlay"]): x for x in res["variants"]}
    for rt in ("runc", "crun"):
        off, on = by[(rt, "off")]["phases"], by[(rt, "auto")]["phases"]
        names = [n for n in dict.fromkeys(n for ph in off + on for n in ph) if n != "total"]
        rank = ("spank-oci's process: exec", "user namespace: its", "user namespace: of",
                "overlay", "spank-oci's process: between", "runtime: spank", "runtime: the",
                "removal", "spank-oci's process: its last", "other")
        names.sort(key=lambda n: next((i for i, r in enumerate(rank) if n.startswith(r)), 99))
        print(f"| {rt}: phase of `spank-oci run --bundle B -- true` | off: median ms |"
              f" auto: median ms | auto - off, ms |")
        print("|---|---:|---:|---:|")
        for n in names + ["total"]:
            a = statistics.median(ph.get(n, 0.0) for ph in off)
            b = statistics.median(ph.get(n, 0.0) for ph in on)
            print(f"| {'**total**' if n == 'total' else n} | {a:.2f} | {b:.2f} | {b - a:+.2f} |")
        print()


def cmd_own(files):
    """The share each task reported (SPANK_OCI_TIMING=1), per variant."""
    print("| id | what | tasks | own median ms | own min ms | own max ms |"
          " own CPU median ms | own CPU max ms | runtime and container, median ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for f in files:
        for x in json.load(open(f))["variants"]:
            if not x.get("own"):
                continue
            o, c = x["own"], x["cpu"]
            print(f"| {x['id']} | {x['label']} | {len(o)} | {statistics.median(o):.2f} |"
                  f" {min(o):.2f} | {max(o):.2f} | {statistics.median(c):.2f} | {max(c):.2f} |"
                  f" {statistics.median(x['inner']):.2f} |")


def cmd_section(name, path):
    out = E["BENCH_OUT"]
    begin, end = f"<!-- bench:{name} begin -->", f"<!-- bench:{name} end -->"
    text = open(out).read() if os.path.exists(out) else (
        "# Benchmarks\n\nWritten by `scripts/bench` (`make bench`); each section is "
        "replaced by the run that measured it, the others are kept.\n\n"
        "<!-- bench:slurm begin -->\n<!-- bench:slurm end -->\n\n"
        "<!-- bench:images begin -->\n<!-- bench:images end -->\n")
    body = begin + "\n" + open(path).read().rstrip("\n") + "\n" + end
    if begin in text and end in text:
        text = text[:text.index(begin)] + body + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    open(out + ".tmp", "w").write(text)
    os.rename(out + ".tmp", out)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"run": lambda: cmd_run(*args), "table": lambda: cmd_table(args),
     "own": lambda: cmd_own(args), "targets": lambda: cmd_targets(args),
     "overlay": lambda: cmd_overlay(args), "where": lambda: cmd_where(*args),
     "phases": lambda: cmd_phases(*args),
     "section": lambda: cmd_section(*args)}[cmd]()


if __name__ == "__main__":
    main()
