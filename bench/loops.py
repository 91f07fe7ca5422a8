#!/usr/bin/env python3
"""plumb on loops (issue 18, "Loops"). A script, not a test: `cargo test` never runs it.

How to run (as root, on a machine that can boot the test hosts, from any directory):

    python3 bench/loops.py                    # ~3 min for plumb; Ansible and pyinfra add ~13 min
    python3 bench/loops.py --no-compare       # plumb only
    python3 bench/loops.py --hosts 151,152 --runs 5 --cold-runs 3

It builds plumb (`cargo build --release`, skip with --no-build), boots two fresh Debian 12 test
hosts (indices 151, 152 unless --hosts), and runs bench/loops.yml — three tasks of 200 items each
(`file`: a directory per item; `lineinfile`: a line per item in one file; `copy`: a small file
per item) — on both at once:

  - cold: /srv/loops removed on both hosts, then `plumb apply` (medians of --cold-runs);
  - no-op, interleaved rounds (a warm-up first): `plumb apply` of the 200-item play, the same
    play with 1-item loops (`-e n=1`), and the floor, OpenSSH `ssh HOST true` to both hosts in
    parallel; target: the 200-item no-op <= 1.5x the 1-item one;
  - the round trips of one 200-item no-op and one cold run on a host (execs that `-v` reports:
    the batched probe, probes alone, and applies);
  - unless --no-compare: the same job, cold and no-op, once each with ansible-core (the playbook
    unchanged; venv --ansible-venv, default /var/tmp/plumb-ansible-venv) and with pyinfra
    (bench/pyinfra_loops.py; venv --pyinfra-venv, default /var/tmp/plumb-pyinfra-venv). A tool
    whose venv is missing is skipped, and said so.

Every time is printed with its ratio to the floor measured in the same run. No timing is
asserted. The hosts it booted are torn down at exit (also on error or Ctrl-C).
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (PLUMB, REPO, BenchError, Env, Hosts, Samples, ip, log, ratio,  # noqa: E402
                   run_parallel_timed, run_timed, secs, settle, tail, tool_version)

PLAYBOOK = os.path.join(REPO, "bench", "loops.yml")
PYINFRA_DEPLOY = os.path.join(REPO, "bench", "pyinfra_loops.py")


class Loops:
    def __init__(self, env, ks):
        self.env, self.ks = env, ks
        self.inv = env.inventory("loops", ks)
        self.seq = 0

    def plumb(self, label, extra=()):
        """One `plumb apply` of loops.yml; (seconds, stderr+stdout text)."""
        self.seq += 1
        out = self.env.path(f"loops-{self.seq:03d}-{label}.log")
        cmd = [PLUMB, "apply", PLAYBOOK, "-i", self.inv, "--host-key-checking", "accept-new",
               "--known-hosts", self.env.kh, *extra]
        s, rc, _, _ = run_timed(cmd, out)
        text = open(out, errors="replace").read() + open(out + ".err", errors="replace").read()
        if rc != 0:
            raise BenchError(f"plumb ({label}) exited {rc}\n{tail(out)}{tail(out + '.err')}")
        return s, text

    def floor(self):
        s, rcs = run_parallel_timed([self.env.ssh(k, "true") for k in self.ks])
        if any(rcs):
            raise BenchError(f"ssh HOST true failed: {rcs}")
        return s

    def wipe(self):
        _, rcs = run_parallel_timed([self.env.ssh(k, "rm -rf /srv/loops") for k in self.ks])
        if any(rcs):
            raise BenchError(f"rm -rf /srv/loops failed: {rcs}")


def round_trips(text, host):
    """Execs on `host` that a -v run reports: the batched probe, probes alone, applies."""
    n = 0
    for line in text.splitlines():
        if not line.lstrip().startswith(host):
            continue
        if re.search(r"probe: \d+ tasks in one round trip|\bprobe:$|\brun( \(\d+ items? in one "
                     r"round trip\))?:$", line):
            n += 1
    return n


def compare(env, lp, args, s, info):
    """Ansible and pyinfra: cold (after a wipe), then no-op, once each."""
    abin = os.path.join(args.ansible_venv, "bin", "ansible-playbook")
    if os.path.exists(abin):
        cfg = env.path("ansible.cfg")
        with open(cfg, "w") as f:
            f.write(f"""[defaults]
gathering = explicit
forks = 50
interpreter_python = /usr/bin/python3
retry_files_enabled = False
host_key_checking = True
local_tmp = {env.path('ansible-tmp')}
[ssh_connection]
pipelining = True
control_path_dir = {env.path('cp')}
""")
        inv = env.path("ansible.ini")
        with open(inv, "w") as f:
            for k in lp.ks:
                f.write(f"h{k} ansible_host={ip(k)}\n")
            f.write(f"[all:vars]\nansible_user=root\nansible_ssh_private_key_file={env.key}\n"
                    f"ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile={env.kh} "
                    f"-o StrictHostKeyChecking=yes'\n")
        aenv = dict(os.environ, ANSIBLE_CONFIG=cfg, ANSIBLE_HOME=env.path("ansible-home"),
                    ANSIBLE_NOCOLOR="1")
        info["ansible"] = tool_version([abin, "--version"])
        lp.wipe()
        for what in ("ansible_cold", "ansible_noop"):
            out = env.path(f"{what}.log")
            t, rc, _, _ = run_timed([abin, "-i", inv, PLAYBOOK], out, env=aenv, timeout=1800)
            changed = [int(c) for c in re.findall(r"changed=(\d+)", open(out).read())]
            log(f"  {what}: {secs(t)}, exit {rc}, changed={changed}")
            if rc != 0:
                info["ansible"] += f" (failed, exit {rc})"
                log(tail(out))
                break
            s.add(what, t)
        cp = env.path("cp")
        for sock in os.listdir(cp) if os.path.isdir(cp) else []:
            subprocess.run(["ssh", "-F", "/dev/null", "-o",
                            f"ControlPath={os.path.join(cp, sock)}", "-O", "exit", "x"],
                           capture_output=True, timeout=10)
    else:
        info["ansible"] = f"skipped: no {abin}"
    pbin = os.path.join(args.pyinfra_venv, "bin", "pyinfra")
    if os.path.exists(pbin):
        pinv = env.path("pyinfra_inventory.py")
        with open(pinv, "w") as f:
            f.write("hosts = [\n")
            for k in lp.ks:
                f.write(f"    ({ip(k)!r}, {{'ssh_user': 'root', 'ssh_key': {env.key!r}, "
                        f"'ssh_known_hosts_file': {env.kh!r}, "
                        f"'ssh_strict_host_key_checking': 'yes'}}),\n")
            f.write("]\n")
        info["pyinfra"] = tool_version([pbin, "--version"])
        lp.wipe()
        for what in ("pyinfra_cold", "pyinfra_noop"):
            out = env.path(f"{what}.log")
            t, rc, _, _ = run_timed([pbin, "-y", pinv, PYINFRA_DEPLOY], out, cwd=env.tmp,
                                    timeout=1800)
            log(f"  {what}: {secs(t)}, exit {rc}")
            if rc != 0:
                info["pyinfra"] += f" (failed, exit {rc})"
                log(tail(out) + tail(out + ".err"))
                break
            s.add(what, t)
    else:
        info["pyinfra"] = f"skipped: no {pbin}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", default="151,152", help="two test host indices (default 151,152)")
    ap.add_argument("--runs", type=int, default=5, help="no-op rounds (default 5)")
    ap.add_argument("--cold-runs", type=int, default=3, help="cold runs (default 3)")
    ap.add_argument("--no-compare", action="store_true", help="skip Ansible and pyinfra")
    ap.add_argument("--ansible-venv", default="/var/tmp/plumb-ansible-venv")
    ap.add_argument("--pyinfra-venv", default="/var/tmp/plumb-pyinfra-venv")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("loops.py: must run as root (test hosts)")
    ks = [int(k) for k in args.hosts.split(",")]
    if not args.no_build:
        log("building plumb (release)")
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=REPO, check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE).stdout.strip()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    hosts = Hosts()
    tmp = tempfile.mkdtemp(prefix="plumb-loops-bench-")
    s = Samples()
    info = {}
    try:
        log(f"booting hosts {ks}")
        hosts.up(ks)
        env = Env(tmp)
        lp = Loops(env, ks)
        trips = {}
        for r in range(args.cold_runs):
            lp.wipe()
            t, text = lp.plumb("cold", ["-v"] if r == 0 else [])
            if r == 0:
                trips["cold"] = round_trips(text, f"h{ks[0]}")
            log(f"cold {r + 1}/{args.cold_runs}: {secs(t)}")
            s.add("cold", t)
        settle("after the cold runs")
        _, text = lp.plumb("noop-v", ["-v"])
        trips["noop"] = round_trips(text, f"h{ks[0]}")
        log(f"round trips on h{ks[0]}: {trips}")
        for r in range(args.runs + 1):
            warm = r == 0
            row = {}
            order = ["floor", "noop", "noop1"]
            order = order[r % 3:] + order[:r % 3]
            for what in order:
                if what == "floor":
                    row[what] = lp.floor()
                elif what == "noop":
                    row[what] = lp.plumb("noop")[0]
                else:
                    row[what] = lp.plumb("noop1", ["-e", "n=1"])[0]
            log(f"{'warm-up' if warm else f'round {r}/{args.runs}'}: "
                + ", ".join(f"{k} {secs(v)}" for k, v in row.items()))
            if not warm:
                for k, v in row.items():
                    s.add(k, v)
        if not args.no_compare:
            compare(env, lp, args, s, info)
        print_table(s, args, commit, trips, info)
        return 0
    except (BenchError, KeyboardInterrupt) as e:
        print(f"loops.py: {e}", file=sys.stderr)
        return 1
    finally:
        hosts.down_all_ours()
        log(f"logs in {tmp}")


def print_table(s, args, commit, trips, info):
    med = s.med
    floor = med("floor")
    print(f"\nplumb {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"bench/loops.yml (3 tasks x 200 items) on 2 hosts; medians of {args.runs} no-op "
          f"rounds, {args.cold_runs} cold runs; {os.cpu_count()} cores")
    rows = [("OpenSSH `ssh HOST true` to both hosts (the floor)", floor, "")]
    rows += [
        ("plumb no-op, 200-item loops", med("noop"),
         f"{ratio(med('noop'), med('noop1')):.2f}x the 1-item play (target <= 1.5x); "
         f"{trips.get('noop', '?')} round trip(s) per host"),
        ("plumb no-op, 1-item loops", med("noop1"), ""),
        ("plumb cold, 200-item loops", med("cold"),
         f"target <= 2.5 s; {trips.get('cold', '?')} round trips per host"),
    ]
    for tool in ("ansible", "pyinfra"):
        for what in ("cold", "noop"):
            key = f"{tool}_{what}"
            if s.get(key):
                plumb = med("cold" if what == "cold" else "noop")
                rows.append((f"{tool} {'cold' if what == 'cold' else 'no-op'} ({info[tool]})",
                             med(key), f"{ratio(med(key), plumb):.0f}x plumb's"))
        if not any(s.get(f"{tool}_{w}") for w in ("cold", "noop")) and tool in info:
            rows.append((f"{tool}: {info[tool]}", None, ""))
    w = max(len(r[0]) for r in rows)
    print(f"| {'what':<{w}} | time | x floor | note |")
    print(f"|{'-' * (w + 2)}|---|---|---|")
    for what, v, note in rows:
        t = secs(v) if v else "—"
        x = f"{ratio(v, floor):.1f}x" if v and floor else "—"
        print(f"| {what:<{w}} | {t} | {x} | {note} |")


if __name__ == "__main__":
    sys.exit(main())
