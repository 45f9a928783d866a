"""What a load run cost the machine, by process (``psutil``).

A run reports, per request, the CPU time of the server under test (its serving process and
every worker), of PostgreSQL, of the benchmark's own client and of everything else
(the kernel's loopback traffic, processes that came and went). It also reports how idle the
cores were.

On 2 cores, throughput is bounded by the CPU one request takes, and a shared host's speed
drifts: the same code gave 105 to 125 req/s within an hour. ``req/s`` alone says neither
who spent the CPU nor whether the cores were saturated. Each run therefore also gives the
rate its own CPU cost per request would allow with every core busy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

#: Who a process's CPU time is counted for.
SERVER, POSTGRES, CLIENT = "server", "postgres", "client"


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds (user + system) spent during one run, by whom, and the cores' idle time.

    ``other_s`` is the machine's busy time less the three named parts, so the parts add up
    to what the machine did.
    """

    server_s: float
    postgres_s: float
    client_s: float
    other_s: float
    idle_s: float
    cores: int
    seconds: float

    @property
    def busy_s(self) -> float:
        return self.server_s + self.postgres_s + self.client_s + self.other_s

    @property
    def idle_share(self) -> float:
        """Share of the cores' time left idle during the run."""
        return self.idle_s / (self.busy_s + self.idle_s)

    def ceiling(self, requests: int) -> float:
        """Requests per second that this run's CPU cost per request allows with every core
        busy: the most the machine gives at that cost, whatever the concurrency."""
        return self.cores * requests / self.busy_s

    def describe(self, requests: int) -> str:
        """One line for a load table: milliseconds of CPU per request by whom, idle cores,
        and the ceiling."""

        def ms(seconds: float) -> str:
            return f"{seconds / requests * 1e3:.2f}"

        postgres = f", PostgreSQL {ms(self.postgres_s)}" if self.postgres_s > 0 else ""
        return (
            f"CPU per request: server {ms(self.server_s)}{postgres}, client "
            f"{ms(self.client_s)}, other {ms(self.other_s)} ms; cores idle "
            f"{self.idle_share:.0%}; at this cost {self.cores} cores give at most "
            f"{self.ceiling(requests):,.0f} req/s"
        )


def meter(port: int) -> Callable[[], CpuUse] | None:
    """Start counting; call the result to stop and get the run's :class:`CpuUse`.

    None when no process on this machine serves ``port`` (its command line names it with
    ``--port``): the server's CPU could not be told from the rest.
    """
    root = _server(port)
    if root is None:
        return None
    before = _cpu_by_process(root)
    machine = psutil.cpu_times()
    start = time.perf_counter()

    def stop() -> CpuUse:
        seconds = time.perf_counter() - start
        after = _cpu_by_process(root)
        now = psutil.cpu_times()
        spent = {SERVER: 0.0, POSTGRES: 0.0, CLIENT: 0.0}
        for pid, (group, cpu) in after.items():
            earlier = before.get(pid)
            # a process started during the run (a new PostgreSQL backend) counts whole
            spent[group] += cpu - (earlier[1] if earlier and earlier[0] == group else 0.0)
        idle = _idle(now) - _idle(machine)
        busy = _total(now) - _total(machine) - idle
        return CpuUse(
            server_s=spent[SERVER],
            postgres_s=spent[POSTGRES],
            client_s=spent[CLIENT],
            other_s=max(0.0, busy - sum(spent.values())),
            idle_s=idle,
            cores=psutil.cpu_count() or 1,
            seconds=seconds,
        )

    return stop


def _server(port: int) -> psutil.Process | None:
    """The process started with ``--port port`` (``bentoml serve``), whose children are its
    workers."""
    wanted = str(port)
    for process in psutil.process_iter(["cmdline"]):
        args = process.info["cmdline"] or []
        for i, arg in enumerate(args):
            if (arg == "--port" and args[i + 1 : i + 2] == [wanted]) or arg == f"--port={wanted}":
                return process
    return None


def _cpu_by_process(server: psutil.Process) -> dict[int, tuple[str, float]]:
    """(group, CPU seconds so far) of every process counted for a group."""
    out: dict[int, tuple[str, float]] = {}
    try:
        tree = [server, *server.children(recursive=True)]
    except psutil.Error:
        tree = []
    groups = [(SERVER, p) for p in tree]
    groups.append((CLIENT, psutil.Process(os.getpid())))
    groups += [(POSTGRES, p) for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    for group, process in groups:
        try:
            times = process.cpu_times()
        except psutil.Error:  # it ended meanwhile
            continue
        out[process.pid] = (group, times.user + times.system)
    return out


def _total(times: tuple[float, ...]) -> float:
    """All the cores' time; Linux counts a guest's time in ``user`` and ``nice`` already."""
    fields = getattr(times, "_fields", ())
    return sum(v for f, v in zip(fields, times, strict=True) if not f.startswith("guest"))


def _idle(times: object) -> float:
    """Idle time of all cores, I/O wait included (a core waiting on a disk is free to run)."""
    return getattr(times, "idle", 0.0) + getattr(times, "iowait", 0.0)
