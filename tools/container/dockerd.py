"""A private Docker engine for tests and trials, which leaves the host as it found it.

    python3 -m tools.container.dockerd start STATE [--data-root DIR]   # prints DOCKER_HOST=...
    python3 -m tools.container.dockerd stop STATE

Debian's ``dockerd`` (package docker.io) runs with everything of its own: data root, exec root,
socket, pid file, and BuildKit switched on in its daemon.json. Nothing is shared with a Docker
the machine may already run. Stopping it is more than a SIGTERM: dockerd leaves its bridge
(``docker0``), its iptables chains and rules (filter and nat, with a MASQUERADE rule), the
FORWARD chain's policy set to DROP and ``net.ipv4.ip_forward=1`` behind, and sometimes a
mount under its exec root. :func:`stop` removes exactly what appeared while the daemon ran (a
snapshot of the host is taken before it starts) and says what, if anything, could not be
removed. Needs root, as dockerd does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
TABLES = ("filter", "nat")
START_SECONDS = 60.0
STOP_SECONDS = 30.0


@dataclass(frozen=True)
class HostState:
    """What dockerd changes on the host: its bridges, iptables chains and rules, forwarding."""

    links: tuple[str, ...]
    chains: tuple[str, ...]  # "table chain"
    rules: tuple[str, ...]  # "table -A CHAIN ...", as iptables-save writes them
    policies: tuple[str, ...]  # "table CHAIN POLICY" of built-in chains that do not ACCEPT
    ip_forward: str


def _is_docker_link(name: str) -> bool:
    # docker0 and the bridges of user-defined networks; not other engines' interfaces.
    return name == "docker0" or name.startswith("br-")


def _is_docker_rule(rule: str) -> bool:
    return "DOCKER" in rule or "docker0" in rule


def snapshot() -> HostState:
    """The parts of the host that dockerd touches, as they are now."""
    names = (path.name for path in Path("/sys/class/net").iterdir())
    links = tuple(sorted(name for name in names if _is_docker_link(name)))
    chains: list[str] = []
    rules: list[str] = []
    policies: list[str] = []
    for table in TABLES:
        saved = subprocess.run(
            ["iptables-save", "-t", table], capture_output=True, text=True, check=False
        ).stdout
        for line in saved.splitlines():
            if line.startswith(":DOCKER"):
                chains.append(f"{table} {line[1:].split()[0]}")
            elif line.startswith(":") and line.split()[1] not in ("-", "ACCEPT"):
                policies.append(f"{table} {line[1:].split()[0]} {line.split()[1]}")
            elif line.startswith("-A ") and _is_docker_rule(line):
                rules.append(f"{table} {line}")
    forward = IP_FORWARD.read_text(encoding="ascii").strip() if IP_FORWARD.exists() else ""
    return HostState(links, tuple(chains), tuple(rules), tuple(policies), forward)


def leftovers(before: HostState, state: Path, data_root: Path) -> list[str]:
    """What dockerd added that is still there: processes, mounts, links, iptables, forwarding."""
    after = snapshot()
    found = [f"process {pid}: {command}" for pid, command in _processes(state)]
    found += [f"mount {mount}" for mount in _mounts(state, data_root)]
    found += [f"link {name}" for name in after.links if name not in before.links]
    found += [f"iptables chain {chain}" for chain in after.chains if chain not in before.chains]
    found += [f"iptables rule {rule}" for rule in after.rules if rule not in before.rules]
    found += [f"iptables policy {p}" for p in set(after.policies) ^ set(before.policies)]
    if after.ip_forward != before.ip_forward:
        found.append(f"net.ipv4.ip_forward={after.ip_forward} (was {before.ip_forward})")
    return found


@dataclass(frozen=True)
class Daemon:
    """A running private dockerd: where it keeps its files and how to reach it."""

    state: Path  # exec root, socket, pid file, daemon.json, the host's snapshot
    data_root: Path
    # The dockerd process when this Python process started it: held, so that it is not
    # collected (with a ResourceWarning) while the daemon runs, and waited for by stop().
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def socket(self) -> Path:
        """The daemon's API socket."""
        return self.state / "docker.sock"

    @property
    def host(self) -> str:
        """The value of DOCKER_HOST that points a client at this daemon."""
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        """dockerd's pid file."""
        return self.state / "dockerd.pid"


def start(state: Path, data_root: Path, client: str = "docker") -> Daemon:
    """Start dockerd with its files in ``state`` (keep the path short: sockets live there)."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise RuntimeError("dockerd is not installed (Debian: apt-get install docker.io)")
    state.mkdir(parents=True, exist_ok=True)
    data_root.mkdir(parents=True, exist_ok=True)
    daemon = Daemon(state, data_root)
    (state / "host-before.json").write_text(json.dumps(asdict(snapshot())), encoding="utf-8")
    config = {
        "data-root": str(data_root),
        "exec-root": str(state / "exec"),
        "pidfile": str(daemon.pidfile),
        "hosts": [daemon.host],
        # BuildKit for every client, the 20.10 one included: the Dockerfile needs it.
        "features": {"buildkit": True},
        # The daemon's own iptables rules make `run -p` and name resolution in builds work.
        "iptables": True,
    }
    (state / "daemon.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    with (state / "dockerd.log").open("ab") as log:
        # The daemon outlives this call (stop() ends it by its pid file): no `with`.
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [dockerd, "--config-file", str(state / "daemon.json")],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    daemon = replace(daemon, process=process)
    deadline = time.monotonic() + START_SECONDS
    env = {**os.environ, "DOCKER_HOST": daemon.host}
    while subprocess.run([client, "version"], env=env, capture_output=True, check=False).returncode:
        if time.monotonic() > deadline:
            log_tail = (state / "dockerd.log").read_text(errors="replace")[-2000:]
            stop(daemon)
            raise RuntimeError(f"dockerd did not answer within {START_SECONDS:.0f} s: {log_tail}")
        time.sleep(0.2)
    return daemon


def stop(daemon: Daemon) -> list[str]:
    """Stop dockerd and undo what it did to the host; return what is left over (ideally [])."""
    if daemon.pidfile.exists():
        pid = int(daemon.pidfile.read_text(encoding="ascii").strip())
        _terminate(pid)
    if daemon.process is not None:  # also when dockerd died before it wrote its pid file
        _terminate(daemon.process.pid)
        daemon.process.wait(timeout=STOP_SECONDS)  # reaped already: this records its status
    for pid, _command in _processes(daemon.state):  # containerd or a shim that outlived it
        _terminate(pid)
    for mount in reversed(_mounts(daemon.state, daemon.data_root)):
        if subprocess.run(["umount", mount], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "--lazy", mount], capture_output=True, check=False)
    before = host_before(daemon.state)
    _restore(before)
    left = leftovers(before, daemon.state, daemon.data_root)
    if not left:
        shutil.rmtree(daemon.state / "exec", ignore_errors=True)
    return left


def _restore(before: HostState) -> None:
    now = snapshot()
    # Rules first (they jump to the chains), then the chains, emptied, then removed.
    for rule in now.rules:
        if rule not in before.rules:
            table, _append, *spec = shlex.split(rule)
            subprocess.run(["iptables", "-t", table, "-D", *spec], capture_output=True, check=False)
    new_chains = [chain.split() for chain in now.chains if chain not in before.chains]
    for action in ("-F", "-X"):
        for table, chain in new_chains:
            command = ["iptables", "-t", table, action, chain]
            subprocess.run(command, capture_output=True, check=False)
    # dockerd sets FORWARD's policy to DROP when it turns forwarding on: set it back.
    was = {policy.rsplit(" ", 1)[0]: policy.rsplit(" ", 1)[1] for policy in before.policies}
    for policy in set(now.policies) ^ set(before.policies):
        table, chain, _policy = policy.split()
        command = ["iptables", "-t", table, "-P", chain, was.get(f"{table} {chain}", "ACCEPT")]
        subprocess.run(command, capture_output=True, check=False)
    for link in now.links:
        if link not in before.links:
            subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
    if before.ip_forward and now.ip_forward != before.ip_forward:
        IP_FORWARD.write_text(before.ip_forward + "\n", encoding="ascii")


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_SECONDS
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        _reap(pid)


def _reap(pid: int) -> None:
    # When this process started the daemon, collect its exit status (no zombie left behind).
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _processes(state: Path) -> list[tuple[int, str]]:
    """Processes whose command line names the state folder: dockerd, containerd, shims."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "cmdline").read_bytes()
            status = (proc / "status").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        zombie = "\nState:\tZ" in status
        if str(state) in command and not zombie and int(proc.name) != os.getpid():
            found.append((int(proc.name), command))
    return found


def _mounts(*folders: Path) -> list[str]:
    """Mount points inside ``folders`` (the exec root's network namespaces, overlays)."""
    lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    points = [line.split()[4] for line in lines]
    return [point for point in points if any(point.startswith(f"{f}/") for f in folders)]


def host_before(state: Path) -> HostState:
    """The host as it was before the daemon whose files are in ``state`` started."""
    data = json.loads((state / "host-before.json").read_text(encoding="utf-8"))
    return HostState(
        links=tuple(data["links"]),
        chains=tuple(data["chains"]),
        rules=tuple(data["rules"]),
        policies=tuple(data["policies"]),
        ip_forward=str(data["ip_forward"]),
    )


def main(argv: list[str] | None = None) -> int:
    """``start`` or ``stop`` a private dockerd whose files live in STATE."""
    parser = argparse.ArgumentParser(
        prog="python3 -m tools.container.dockerd",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("state", type=Path, help="a short folder path (the socket lives there)")
    parser.add_argument("--data-root", type=Path, help="images and layers (default: STATE/data)")
    args = parser.parse_args(argv)
    state = args.state.resolve()
    data_root = (args.data_root or state / "data").resolve()
    if args.action == "start":
        try:
            daemon = start(state, data_root)
        except RuntimeError as error:
            print(f"dockerd: {error}", file=sys.stderr)
            return 1
        print(f"DOCKER_HOST={daemon.host}")
        return 0
    left = stop(Daemon(state, data_root))
    for item in left:
        print(f"dockerd: left behind: {item}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
