"""CPU per copy (issue 19): where the two cores go when cosbatch, or s5cmd, copies small objects.

Both cores are shared by the client and the storage server (SeaweedFS), so a client's ceiling
is `cores / (client CPU per copy + server CPU per copy)`; "fraction of ceiling" is the measured
throughput over that. Client CPU is this process's (and its children's) user+system time, the
server's is the `weed` process's, both read around the timed part only.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from benchmarks.harness import Measurement, ScenarioResult
from benchmarks.scenarios import Env


@dataclass(frozen=True)
class CpuCost:
    seconds: float
    client_cpu_s: float
    server_cpu_s: float

    def per_op_ms(self, n: int) -> tuple[float, float]:
        return 1000 * self.client_cpu_s / n, 1000 * self.server_cpu_s / n


def _own_cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _server_cpu_s(server: psutil.Process) -> float:
    times = server.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def measure(env: Env, run: Callable[[], object]) -> CpuCost:
    """Wall time and the client's and server's CPU seconds spent by `run()`."""
    server = psutil.Process(env.server.pid)
    client0, server0, t0 = _own_cpu_s(), _server_cpu_s(server), time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    return CpuCost(seconds, _own_cpu_s() - client0, _server_cpu_s(server) - server0)


def _summary(name: str, title: str, verb: str, n: int, costs: dict[str, list[CpuCost]]) -> ScenarioResult:
    cores = os.cpu_count() or 1
    measurements: list[Measurement] = []
    result = ScenarioResult(name, f"{title} ({cores} cores shared with the server)", measurements,
                            f"client CPU per {verb} reported; fraction of ceiling >= 0.9")
    fractions = []
    for who, runs in costs.items():
        client_ms = [c.per_op_ms(n)[0] for c in runs]
        server_ms = [c.per_op_ms(n)[1] for c in runs]
        rate = [n / c.seconds for c in runs]
        ceiling = [1000 * cores / (cm + sm) for cm, sm in zip(client_ms, server_ms, strict=True)]
        measurements += [
            Measurement(name, f"{who}: objects/s", "objects/s", rate),
            Measurement(name, f"{who}: client CPU per {verb}", "ms", client_ms, higher_is_better=False),
            Measurement(name, f"{who}: server CPU per {verb}", "ms", server_ms, higher_is_better=False),
            Measurement(name, f"{who}: fraction of its ceiling", "x",
                        [x / c for x, c in zip(rate, ceiling, strict=True)]),
        ]
        fractions.append(measurements[-1].median)
        result.notes.append(f"{who}: ceiling {sorted(ceiling)[len(ceiling) // 2]:,.0f} objects/s "
                            f"= {cores} cores / (client + server CPU per {verb})")
    result.ratio = measurements[0].median / measurements[4].median
    result.passed = fractions[0] >= 0.9
    return result


def copy_cpu(env: Env, n: int, rounds: int) -> ScenarioResult:
    """Copy n x 1 KiB objects with cosbatch and with `s5cmd run`, alternately; CPU per copy of each."""
    src, dst, rep = env.bucket("cpus"), env.bucket("cpud"), env.bucket("rep")
    keys = env.seed(src, "small", n)
    manifest = env.manifest(src, keys)
    commands = env.workdir / "cpu-copy.txt"
    costs: dict[str, list[CpuCost]] = {"cosbatch": [], "s5cmd run": []}
    warm = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}", "TargetKeyPrefix": "warm"}}
    env.cosbatch_job(env.manifest(src, keys[:10]), warm, rep, 10)  # imports are not a copy's cost
    for r in range(rounds):
        op = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{dst}", "TargetKeyPrefix": f"cosbatch-{r}"}}
        costs["cosbatch"].append(measure(env, lambda op=op: env.cosbatch_job(manifest, op, rep, n)))
        commands.write_text("".join(f"cp s3://{src}/{k} s3://{dst}/s5cmd-{r}/{k}\n" for k in keys))
        costs["s5cmd run"].append(measure(env, lambda: env.s5cmd("run", str(commands))))
    return _summary("cpu", f"(n) CPU per copy of {n:,} x 1 KiB", "copy", n, costs)


def delete_cpu(env: Env, n: int, rounds: int) -> ScenarioResult:
    """Delete n objects with cosbatch and with `s5cmd rm`, alternately; CPU per delete of each."""
    bucket, rep = env.bucket("cpudel"), env.bucket("rep")
    costs: dict[str, list[CpuCost]] = {"cosbatch": [], "s5cmd rm": []}
    for r in range(rounds):
        manifest = env.manifest(bucket, env.seed(bucket, f"cb-{r}", n))
        costs["cosbatch"].append(measure(env, lambda m=manifest: env.cosbatch_job(m, {"S3DeleteObject": {}}, rep, n)))
        env.seed(bucket, f"s5-{r}", n)
        costs["s5cmd rm"].append(measure(env, lambda r=r: env.s5cmd("rm", f"s3://{bucket}/s5-{r}/*")))
    return _summary("cpu-delete", f"(o) CPU per delete of {n:,} objects", "delete", n, costs)
