"""CPU used by a running stack at rest, from the kernel's own counters (no sampling tool in the way).

    /usr/bin/python3 bench/idle_cpu.py --project dnsrace --seconds 30

Two numbers, both in % of ONE core over the window:
  containers   the sum of the project's containers' cgroup CPU time (cpuacct.usage, cgroup v1, or
               cpu.stat usage_usec, cgroup v2): what the services themselves burn
  host         the whole machine's busy time (/proc/stat), which also counts what docker spends on the
               stack (dockerd, containerd, healthcheck execs, the port proxies); compare with the stack down
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CGROUP_ROOTS = (Path("/sys/fs/cgroup/cpuacct/docker"), Path("/sys/fs/cgroup/cpu,cpuacct/docker"),
                Path("/sys/fs/cgroup/system.slice"))


def container_ids(project: str) -> dict[str, str]:
    out = subprocess.run(["docker", "ps", "--no-trunc", "--filter", f"label=com.docker.compose.project={project}",
                          "--format", "{{.ID}} {{.Names}}"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


def cgroup_ns(container: str) -> int:
    for root in CGROUP_ROOTS:
        v1 = root / container / "cpuacct.usage"
        if v1.exists():
            return int(v1.read_text())
        v2 = root / f"docker-{container}.scope" / "cpu.stat"
        if v2.exists():
            fields = dict(line.split() for line in v2.read_text().splitlines())
            return int(fields["usage_usec"]) * 1000
    raise FileNotFoundError(f"no cgroup CPU counter found for container {container[:12]}")


def host_busy_ticks() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def measure(project: str, seconds: float) -> dict[str, float]:
    ids = container_ids(project)
    if not ids:
        raise SystemExit(f"idle_cpu: no running containers in compose project {project!r} (make up first)")
    before = {c: cgroup_ns(c) for c in ids}
    busy0, total0 = host_busy_ticks()
    t0 = time.monotonic()
    time.sleep(seconds)  # the measurement window itself
    elapsed = time.monotonic() - t0
    busy1, total1 = host_busy_ticks()
    after = {c: cgroup_ns(c) for c in ids}
    per_container = {ids[c]: (after[c] - before[c]) / 1e9 / elapsed * 100 for c in ids}
    cores = os.cpu_count() or 1
    return {
        "containers_pct_of_one_core": round(sum(per_container.values()), 1),
        "host_pct_of_one_core": round((busy1 - busy0) / max(total1 - total0, 1) * cores * 100, 1),
        "seconds": round(elapsed, 1),
        **{f"container:{name}": round(pct, 1) for name, pct in sorted(per_container.items())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="dnsrace")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 5 <= args.seconds <= 600:
        parser.error("--seconds must be 5..600")
    result = measure(args.project, args.seconds)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"idle CPU over {result['seconds']} s, % of one core: containers {result['containers_pct_of_one_core']}, "
              f"host {result['host_pct_of_one_core']}")
        for key, value in result.items():
            if key.startswith("container:"):
                print(f"  {key[10:]:<28} {value:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
