"""A local Apache Flink session cluster for tests, benchmarks and users who want one: a JobManager
and N TaskManagers as separate JVMs on loopback.

    python -m launch.flink_cluster start --rest-port 8081 --taskmanagers 2
    python -m launch.flink_cluster status --rest-port 8081
    python -m launch.flink_cluster stop --rest-port 8081
    python -m launch.flink_cluster fetch      # only obtain and cache the jars (CI does this)

`start` obtains what is missing by the ordinary clients and caches it: Flink's jars from PyPI
(`pip download apache-flink-libraries`, an sdist whose `deps/` holds `flink-dist` and its
libraries) and Beam's Flink job server jar for the installed Beam (launch/flink_job_server.py,
with `mvn`). It runs Flink's own entry points with the JVM flags Flink's scripts would compute
(Flink's `BashJavaUtils`), on Flink's default configuration with only ports, slots, memory sized
for two cores and the `--conf` settings given. It returns once the REST API reports N
TaskManagers; `stop` ends every JVM it started (TaskManagers first) and what they started.

Its JVMs hold Beam's Flink runner jars on their class path (and say so in the config key
`cosbatch.beam-runner-on-classpath`), so cosbatch's jobs ship no jar: without that, Flink's REST
submission uploads the job server's ~160 jars (151 MB) with every job. Beside the JobManager it
runs Beam's Flink job server, named in the config key `cosbatch.job-server`, which every
`cosbatch run` uses instead of starting its own (a JVM start, 22 s here).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cosbatch.errors import RunnerUnavailable
from launch import flink_job_server
from launch.flink_job_server import free_port

FLINK_VERSION = "1.19.1"  # a 1.19 to match the job server's Flink client (launch/flink_job_server.py)
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cosbatch" / "flink"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
#: What Flink's shipped config.yaml passes every JVM so that Flink runs on Java 17.
JAVA_17_OPTS = (
    "--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED "
    "--add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED "
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED "
    "--add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED "
    "--add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED "
    "--add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED "
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED "
    "--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED "
    "--add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED "
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED "
    "--add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED "
    "--add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED "
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED "
    "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED"
)
LOG4J = """rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.pekko.name = org.apache.pekko
logger.pekko.level = WARN
"""
JOBMANAGER = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
TASKMANAGER = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not found:
        raise RunnerUnavailable("a local Flink cluster needs Java 11 or 17 (java on PATH or $JAVA_HOME); "
                                "install it, e.g. apt-get install openjdk-17-jre-headless")
    return found


def ensure_flink(version: str = FLINK_VERSION, cache: Path = CACHE) -> Path:
    """Flink's `lib/` and `bin/bash-java-utils.jar`, from PyPI's apache-flink-libraries, cached."""
    home = cache / f"flink-{version}"
    if (home / "lib" / f"flink-dist-{version}.jar").exists():
        return home
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cosbatch-flink-", dir=cache) as work:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"apache-flink-libraries=={version}", "-d", work],
            capture_output=True, text=True, check=False)
        sdists = list(Path(work).glob("apache-flink-libraries-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            raise RunnerUnavailable(f"pip could not download apache-flink-libraries=={version} (Flink's jars): "
                                    f"{(done.stderr or done.stdout).strip()[-300:]}")
        partial = Path(work) / "flink"
        with tarfile.open(sdists[0]) as sdist:
            for member in sdist.getmembers():
                parts = Path(member.name).parts
                if len(parts) == 4 and parts[1] == "deps" and parts[2] in ("lib", "bin") and member.isfile():
                    member.name = f"{parts[2]}/{parts[3]}"
                    sdist.extract(member, partial, filter="data")
        if not (partial / "lib" / f"flink-dist-{version}.jar").exists():
            raise RunnerUnavailable(f"apache-flink-libraries=={version} holds no deps/lib/flink-dist-{version}.jar")
        shutil.rmtree(home, ignore_errors=True)
        partial.rename(home)
    return home


@dataclass
class Cluster:
    """A session cluster's folder: its config, logs and the pids of its JVMs."""

    rest_port: int
    root: Path
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def log(self) -> Path:
        return self.root / "log"

    def save(self) -> None:
        (self.root / "pids.json").write_text(json.dumps(self.pids))

    @classmethod
    def at(cls, rest_port: int, root: Path | None = None) -> Cluster:
        root = root or CACHE / f"cluster-{rest_port}"
        pids_file = root / "pids.json"
        pids = json.loads(pids_file.read_text()) if pids_file.exists() else {}
        return cls(rest_port, root, pids)


def overview(rest_port: int, timeout: float = 2.0) -> dict | None:
    """Flink's REST `/overview` (taskmanagers, slots, flink-version, jobs), or None if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/overview", timeout=timeout) as reply:
            return json.load(reply)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def write_config(cluster: Cluster, taskmanagers: int, slots: int, extra: dict[str, str]) -> None:
    settings = {
        "jobmanager.rpc.address": "127.0.0.1", "jobmanager.rpc.port": str(free_port()),
        "jobmanager.bind-host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1", "taskmanager.host": "127.0.0.1",
        "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1", "rest.port": str(cluster.rest_port),
        "blob.server.port": str(free_port()),
        "jobmanager.memory.process.size": "1024m", "taskmanager.memory.process.size": "1536m",
        "taskmanager.numberOfTaskSlots": str(slots), "parallelism.default": str(taskmanagers * slots),
        "env.java.opts.all": JAVA_17_OPTS,
    }
    settings.update(extra)
    cluster.conf.mkdir(parents=True, exist_ok=True)
    cluster.log.mkdir(parents=True, exist_ok=True)
    (cluster.conf / "config.yaml").write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()))
    (cluster.conf / "log4j.properties").write_text(LOG4J)


def jvm_params(home: Path, conf: Path, which: str) -> tuple[list[str], list[str]]:
    """The JVM flags and `-D` dynamic properties Flink's scripts compute (`GET_JM_RESOURCE_PARAMS`,
    `GET_TM_RESOURCE_PARAMS`)."""
    done = subprocess.run(
        [java(), "-cp", f"{home / 'bin' / 'bash-java-utils.jar'}:{home / 'lib'}/*",
         "org.apache.flink.runtime.util.bash.BashJavaUtils", which, "--configDir", str(conf)],
        capture_output=True, text=True, check=False)
    results = [line.split("BASH_JAVA_UTILS_EXEC_RESULT:", 1)[1] for line in done.stdout.splitlines()
               if "BASH_JAVA_UTILS_EXEC_RESULT:" in line]
    if done.returncode != 0 or len(results) < 2:
        raise RunnerUnavailable(f"Flink could not size its JVMs from {conf / 'config.yaml'}: "
                                f"{(done.stdout + done.stderr).strip()[-400:]}")
    return results[0].split(), results[1].split()


#: The config key saying which Beam's Flink runner the cluster's JVMs hold on their class path
#: (launch/flink.py then submits jobs that ship no jar). A cluster set up by hand with Beam's
#: runner jars in Flink's `lib/` may declare it too.
BEAM_RUNNER_KEY = "cosbatch.beam-runner-on-classpath"
#: The config keys naming the Beam Flink job server the cluster runs beside its JobManager (its
#: job endpoint, and the Beam it is for), so each `cosbatch run` need not start one (22 s here).
JOB_SERVER_KEY = "cosbatch.job-server"
JOB_SERVER_BEAM_KEY = "cosbatch.job-server-beam"
JOB_SERVER_START_TIMEOUT_S = 120.0


def _class_path(home: Path, cluster: Cluster) -> str:
    """Flink's `lib/`, then the Beam runner jars the cluster was started with (class-path.txt)."""
    extra = cluster.root / "class-path.txt"
    beam = extra.read_text().split() if extra.exists() else []
    return ":".join([f"{home / 'lib'}/*", *beam])


def _start_jvm(home: Path, cluster: Cluster, name: str, main: str, which: str) -> int:
    flags, dynamic = jvm_params(home, cluster.conf, which)
    command = [java(), *flags, *JAVA_17_OPTS.split(), f"-Dlog.file={cluster.log / (name + '.log')}",
               f"-Dlog4j.configurationFile=file:{cluster.conf / 'log4j.properties'}",
               "-cp", _class_path(home, cluster), main, "--configDir", str(cluster.conf), *dynamic]
    with open(cluster.log / f"{name}.out", "ab") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=cluster.root)
    return process.pid


def start(rest_port: int, taskmanagers: int = 2, slots: int = 1, root: Path | None = None,
          conf: dict[str, str] | None = None, flink_version: str = FLINK_VERSION,
          job_server: bool = True, timeout: float = START_TIMEOUT_S) -> Cluster:
    """Start the cluster and return once its REST API reports `taskmanagers` TaskManagers."""
    if overview(rest_port) is not None:
        raise RunnerUnavailable(f"something already answers Flink's REST API at 127.0.0.1:{rest_port}; "
                                f"stop it (python -m launch.flink_cluster stop --rest-port {rest_port}) "
                                "or choose another --rest-port")
    home = ensure_flink(flink_version)
    jar = flink_job_server.ensure_jar() if job_server else None
    beam_jars = flink_job_server.runner_class_path(jar) if jar and flink_job_server.nothing_to_stage_jar(jar) else []
    cluster = Cluster.at(rest_port, root)
    stop(cluster)
    settings = dict(conf or {})
    job_server_port = free_port()
    if jar:
        settings.setdefault(JOB_SERVER_KEY, f"127.0.0.1:{job_server_port}")
        settings.setdefault(JOB_SERVER_BEAM_KEY, flink_job_server.installed_beam())
    if beam_jars:
        settings.setdefault(BEAM_RUNNER_KEY, flink_job_server.installed_beam())
    write_config(cluster, taskmanagers, slots, settings)
    (cluster.root / "class-path.txt").write_text("".join(f"{path}\n" for path in beam_jars))
    try:
        cluster.pids["jobmanager"] = _start_jvm(home, cluster, "jobmanager", JOBMANAGER, "GET_JM_RESOURCE_PARAMS")
        cluster.save()
        for index in range(1, taskmanagers + 1):
            name = f"taskmanager-{index}"
            cluster.pids[name] = _start_jvm(home, cluster, name, TASKMANAGER, "GET_TM_RESOURCE_PARAMS")
            cluster.save()
        wait_for_taskmanagers(cluster, taskmanagers, timeout)
        if jar:
            _start_job_server(cluster, jar, job_server_port)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _start_job_server(cluster: Cluster, jar: Path, port: int) -> None:
    """Beam's Flink job server for this cluster, as one of its processes (stopped with it)."""
    command, _ = flink_job_server.job_server_command(jar, f"http://{cluster.address}", cluster.root / "artifacts", port)
    log = cluster.log / "job-server.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=cluster.root)
    cluster.pids["job-server"] = process.pid
    cluster.save()
    deadline = time.monotonic() + JOB_SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RunnerUnavailable(f"Beam's Flink job server exited with {process.returncode} while starting; see {log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RunnerUnavailable(f"Beam's Flink job server did not listen on 127.0.0.1:{port} within "
                            f"{JOB_SERVER_START_TIMEOUT_S:.0f} s; see {log}")


def start_taskmanager(cluster: Cluster, name: str, flink_version: str = FLINK_VERSION) -> int:
    """Start one more TaskManager (or restart a lost one) for a running cluster; its pid."""
    cluster.pids[name] = _start_jvm(ensure_flink(flink_version), cluster, name, TASKMANAGER, "GET_TM_RESOURCE_PARAMS")
    cluster.save()
    return cluster.pids[name]


def wait_for_taskmanagers(cluster: Cluster, taskmanagers: int, timeout: float = START_TIMEOUT_S) -> dict:
    deadline = time.monotonic() + timeout
    seen: dict | None = None
    while time.monotonic() < deadline:
        dead = [name for name, pid in cluster.pids.items() if not _alive(pid)]
        if dead:
            raise RunnerUnavailable(f"Flink's {dead[0]} exited while starting; see {cluster.log / (dead[0] + '.log')}")
        seen = overview(cluster.rest_port)
        if seen and seen.get("taskmanagers", 0) >= taskmanagers:
            return seen
        time.sleep(0.5)
    raise RunnerUnavailable(f"Flink at {cluster.address} did not report {taskmanagers} TaskManagers within "
                            f"{timeout:.0f} s (last: {seen}); see {cluster.log}")


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def kill(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal a JVM's whole process group (it leads one: what it started, SDK harnesses included)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop(cluster: Cluster, timeout: float = STOP_TIMEOUT_S) -> list[str]:
    """Stop every JVM of the cluster, its job server first, then the TaskManagers, the JobManager
    last; SIGKILL what outlives `timeout`."""
    names = sorted(cluster.pids, key=lambda name: (name == "jobmanager", name != "job-server"))
    stopped = []
    for name in names:
        pid = cluster.pids[name]
        if _alive(pid):
            kill(pid)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                kill(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
            stopped.append(name)
        kill(pid, signal.SIGKILL)  # what is left of its group (an orphaned SDK harness)
    cluster.pids.clear()
    if cluster.root.exists():
        cluster.save()
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launch.flink_cluster", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="obtain Flink's jars (pip) and Beam's job server jar (mvn), cached")
    fetch.add_argument("--flink-version", default=FLINK_VERSION)
    for name in ("start", "stop", "status"):
        command = commands.add_parser(name)
        command.add_argument("--rest-port", type=int, default=8081, help="Flink's REST port (default 8081)")
        command.add_argument("--dir", type=Path, default=None,
                             help=f"the cluster's folder: config, logs, pids (default {CACHE}/cluster-PORT)")
        if name == "start":
            command.add_argument("--taskmanagers", type=int, default=2)
            command.add_argument("--slots", type=int, default=1, help="task slots per TaskManager")
            command.add_argument("--flink-version", default=FLINK_VERSION)
            command.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                                 help="a Flink setting, e.g. restart-strategy.type=fixed-delay (repeatable)")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(f"Flink {args.flink_version} in {ensure_flink(args.flink_version)}")
            print(f"Beam's Flink job server at {flink_job_server.ensure_jar()}")
            return 0
        if args.command == "start":
            extra = dict(item.split("=", 1) for item in args.conf if "=" in item)
            bad = [item for item in args.conf if "=" not in item]
            if bad:
                parser.error(f"--conf takes KEY=VALUE, not {bad[0]!r}")
            cluster = start(args.rest_port, args.taskmanagers, args.slots, args.dir, extra, args.flink_version)
            print(f"Flink {overview(args.rest_port).get('flink-version')} at http://{cluster.address} with "
                  f"{args.taskmanagers} TaskManager(s); logs in {cluster.log}")
            if "job-server" in cluster.pids:
                config = (cluster.conf / "config.yaml").read_text()
                endpoint = next(line.split(": ", 1)[1].strip('"') for line in config.splitlines()
                                if line.startswith(f"{JOB_SERVER_KEY}: "))
                print(f"Beam's Flink job server for it at {endpoint} (cosbatch uses it by itself)")
            print(f"run jobs on it with: cosbatch run --runner flink --runner-option flink_master={cluster.address}")
            return 0
        cluster = Cluster.at(args.rest_port, args.dir)
        if args.command == "stop":
            stopped = stop(cluster)
            print(f"stopped {', '.join(stopped)}" if stopped else f"no Flink cluster of ours on port {args.rest_port}")
            return 0
        seen = overview(args.rest_port)
        if seen is None:
            print(f"no Flink answers at 127.0.0.1:{args.rest_port}")
            return 1
        print(f"Flink {seen.get('flink-version')} at http://127.0.0.1:{args.rest_port}: "
              f"{seen.get('taskmanagers')} TaskManager(s), {seen.get('slots-available')}/{seen.get('slots-total')} "
              f"slots free, {seen.get('jobs-running')} job(s) running")
        return 0
    except RunnerUnavailable as error:
        print(f"flink_cluster: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
