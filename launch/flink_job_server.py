"""Beam's Flink job server jar, obtained from Maven Central with `mvn` and placed where Beam's
FlinkRunner looks for it (`~/.apache_beam/cache/jars/`), so `--runner flink` needs no download
at run time.

Beam publishes the job server as `org.apache.beam:beam-runners-flink-<flink>-job-server:<beam>`,
a shaded jar of the runner `org.apache.beam:beam-runners-flink-<flink>:<beam>` and its runtime
dependencies. `ensure_jar` first asks Maven for that jar (`mvn dependency:copy`). Where the
repository serves the runner but not the shaded jar (the mirror this project's machines reach
serves none of the shaded jars, see docs/flink.md), it resolves the runner with its
runtime dependencies (`mvn dependency:copy-dependencies`) into a folder beside the jar's place,
and writes there a small jar whose manifest names the job server's main class and that folder as
its class path: `java -jar` runs it exactly as it would run Beam's shaded jar.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from cosbatch.errors import RunnerUnavailable

#: The Flink version the job server is built for, for each Beam version cosbatch is tested with.
FLINK_FOR_BEAM = {"2.62.0": "1.19"}
MAIN_CLASS = "org.apache.beam.runners.flink.FlinkJobServerDriver"
JAR_CACHE = Path(os.path.expanduser("~")) / ".apache_beam" / "cache" / "jars"
MAVEN_TIMEOUT_S = 900


def jar_name(flink: str, beam: str) -> str:
    return f"beam-runners-flink-{flink}-job-server-{beam}.jar"


def installed_beam() -> str:
    import apache_beam

    return apache_beam.__version__


def default_flink(beam: str) -> str:
    if beam not in FLINK_FOR_BEAM:
        raise RunnerUnavailable(
            f"cosbatch knows no Flink job server for apache-beam {beam}; install the tested one: "
            f"pip install 'apache-beam=={next(iter(FLINK_FOR_BEAM))}'")
    return FLINK_FOR_BEAM[beam]


def jar_path(flink: str | None = None, beam: str | None = None, cache: Path | None = None) -> Path:
    """Where Beam's FlinkRunner looks for the job server jar of this Beam and Flink."""
    beam = beam or installed_beam()
    return (cache or JAR_CACHE) / jar_name(flink or default_flink(beam), beam)


def ensure_jar(flink: str | None = None, beam: str | None = None, cache: Path | None = None) -> Path:
    """The job server jar for the installed Beam (or `beam`), obtained with `mvn` if missing."""
    beam = beam or installed_beam()
    flink = flink or default_flink(beam)
    cache = cache or JAR_CACHE
    target = jar_path(flink, beam, cache)
    if target.exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RunnerUnavailable(
            f"Beam's Flink job server jar is not at {target} and Maven (mvn) is not installed to get it; "
            "install Maven (apt-get install maven) or put the jar there")
    cache.mkdir(parents=True, exist_ok=True)
    if _copy_published_jar(mvn, flink, beam, target):
        return target
    _assemble_from_runner(mvn, flink, beam, target)
    return target


class _BackgroundFetch:
    """One `ensure_jar` in a daemon thread, so that a controller's scheduler loop asking whether
    Flink can be used is never held for the minutes Maven takes the first time."""

    def __init__(self, flink: str | None, cache: Path) -> None:
        self.started = time.monotonic()
        self.error: RunnerUnavailable | None = None
        self.thread = threading.Thread(target=self._fetch, args=(flink, cache), daemon=True,
                                       name="cosbatch-flink-jar-fetch")
        self.thread.start()

    def _fetch(self, flink: str | None, cache: Path) -> None:
        try:
            ensure_jar(flink, cache=cache)
        except RunnerUnavailable as error:
            self.error = error
        except Exception as error:  # noqa: BLE001 - whatever went wrong is the runner's unavailability
            self.error = RunnerUnavailable(f"getting Beam's Flink job server jar failed: {error}")


_fetches: dict[tuple[str | None, Path], _BackgroundFetch] = {}
_fetches_lock = threading.Lock()


def jar_or_fetch_in_background(flink: str | None = None, cache: Path | None = None) -> Path:
    """The job server jar if it is at hand. Otherwise RunnerUnavailable at once, while one fetch
    (ensure_jar) runs in the background: "being fetched" until it ends, then its error if it
    failed (the next call after a failure starts a new fetch)."""
    cache = cache or JAR_CACHE
    target = jar_path(flink, cache=cache)
    if target.exists():
        return target
    key = (flink, cache)
    with _fetches_lock:
        fetch = _fetches.get(key)
        if fetch is not None and not fetch.thread.is_alive():
            del _fetches[key]
            if target.exists():
                return target
            if fetch.error is not None:
                raise fetch.error
        if fetch is None or not fetch.thread.is_alive():
            fetch = _fetches[key] = _BackgroundFetch(flink, cache)
    waited = time.monotonic() - fetch.started
    raise RunnerUnavailable(f"Beam's Flink job server jar ({target.name}) is being fetched with Maven, "
                            f"{waited:.0f} s so far (about 3 minutes the first time)")


def _maven(mvn: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([mvn, "-B", "-q", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=MAVEN_TIMEOUT_S, check=False)


def _copy_published_jar(mvn: str, flink: str, beam: str, target: Path) -> bool:
    with tempfile.TemporaryDirectory(prefix="cosbatch-mvn-") as work:
        done = _maven(mvn, ["org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
                            f"-Dartifact=org.apache.beam:beam-runners-flink-{flink}-job-server:{beam}:jar",
                            f"-DoutputDirectory={work}"], Path(work))
        jar = Path(work) / jar_name(flink, beam)
        if done.returncode != 0 or not jar.exists():
            return False
        shutil.move(str(jar), target)
        return True


POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.cosbatch</groupId><artifactId>flink-job-server</artifactId><version>{beam}</version>
  <dependencies>
    <dependency><groupId>org.apache.beam</groupId><artifactId>beam-runners-flink-{flink}</artifactId>
      <version>{beam}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.30</version>
    </dependency>
  </dependencies>
</project>
"""


def _assemble_from_runner(mvn: str, flink: str, beam: str, target: Path) -> None:
    lib = target.with_suffix("")  # .../beam-runners-flink-1.19-job-server-2.62.0/
    partial = lib.with_name(lib.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="cosbatch-mvn-") as work:
        (Path(work) / "pom.xml").write_text(POM.format(flink=flink, beam=beam))
        done = _maven(mvn, ["org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
                            "-DincludeScope=runtime", f"-DoutputDirectory={partial}"], Path(work))
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        detail = _maven_error(done.stdout + done.stderr)
        raise RunnerUnavailable(
            f"Maven could not get Beam's Flink job server for apache-beam {beam} (Flink {flink}): "
            f"neither org.apache.beam:beam-runners-flink-{flink}-job-server:{beam} nor the runner "
            f"org.apache.beam:beam-runners-flink-{flink}:{beam} with its dependencies resolved ({detail}); "
            f"put the job server jar at {target}")
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)
    jars = sorted(p.name for p in lib.glob("*.jar"))
    write_launcher_jar(target, MAIN_CLASS, [f"{lib.name}/{name}" for name in jars])


def _maven_error(output: str) -> str:
    lines = [line.removeprefix("[ERROR] ").strip() for line in output.splitlines() if "ERROR" in line]
    wanted = [line for line in lines if line and not line.startswith(("-", "Try ", "Then", "mvn ", "Path to"))]
    return (wanted[0] if wanted else output.strip()[-300:] or "no output")[:300]


def write_launcher_jar(target: Path, main_class: str, class_path: list[str]) -> None:
    """A jar holding only a manifest: `java -jar target` runs `main_class` with `class_path`
    (paths relative to the jar's folder)."""
    lines = ["Manifest-Version: 1.0", "Created-By: cosbatch", f"Main-Class: {main_class}",
             "Class-Path: " + " ".join(class_path)]
    manifest = "".join(_manifest_line(line) for line in lines) + "\r\n"
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", manifest)
    partial.replace(target)


def _manifest_line(line: str) -> str:
    """A manifest header wrapped as the jar spec says: 72 bytes a line, continuations start with
    a space."""
    data = line.encode()
    out = [data[:72]]
    data = data[72:]
    while data:
        out.append(b" " + data[:71])
        data = data[71:]
    return "".join(part.decode() + "\r\n" for part in out)


#: Beam's jars a Flink cluster can hold on its own class path instead of receiving them with every
#: job: the job server's folder without what Flink's distribution has already (Flink itself, its
#: logging, Kryo).
_ON_FLINK_ALREADY = ("flink-", "slf4j-", "log4j-", "kryo-", "minlog-", "objenesis-", "chill-java-")
NOTHING_TO_STAGE_CLASS = "io.cosbatch.flink.NothingToStage"
_NOTHING_TO_STAGE_SOURCE = Path(__file__).with_name("java") / "NothingToStage.java"


def runner_class_path(jar: Path) -> list[Path]:
    """The jars of Beam's Flink runner a cluster puts on its class path (launch/flink_cluster.py),
    so that jobs need not ship them: empty for a published shaded job server jar, which bundles
    Flink's own classes too."""
    lib = jar.with_suffix("")
    if not lib.is_dir():
        return []
    return sorted(path for path in lib.glob("*.jar") if not path.name.startswith(_ON_FLINK_ALREADY))


def nothing_to_stage_jar(jar: Path) -> Path | None:
    """A small jar with launch/java/NothingToStage.java compiled against the job server's Beam:
    given as the job's `pipeline_resources_detector_factory_class`, the job server stages no jar
    with a job (Flink's REST submission otherwise uploads all ~160 of them, 151 MB, every job).
    None where it cannot be made (no `javac`, or a shaded job server jar)."""
    lib = jar.with_suffix("")
    cores = sorted(lib.glob("beam-sdks-java-core-*.jar")) if lib.is_dir() else []
    target = jar.with_name(f"cosbatch-nothing-to-stage-{lib.name}.jar")
    if target.exists() and target.stat().st_mtime >= _NOTHING_TO_STAGE_SOURCE.stat().st_mtime:
        return target
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if not cores or javac is None or jar_tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="cosbatch-javac-") as work:
        compiled = subprocess.run([javac, "--release", "11", "-cp", str(cores[0]), "-d", work,
                                   str(_NOTHING_TO_STAGE_SOURCE)], capture_output=True, text=True, check=False)
        if compiled.returncode != 0:
            return None
        partial = target.with_name(target.name + ".partial")
        packed = subprocess.run([jar_tool, "cf", str(partial), "-C", work, "io"], capture_output=True, check=False)
        if packed.returncode != 0:
            return None
        partial.replace(target)
    return target


def job_server_command(jar: Path, flink_master: str, artifacts: Path, port: int) -> tuple[list[str], bool]:
    """The command that runs Beam's Flink job server on 127.0.0.1:`port`, and whether it stages
    nothing with a job (it has NothingToStage on its class path)."""
    java = shutil.which("java") or "java"
    staging = nothing_to_stage_jar(jar)
    class_path = f"{jar}:{staging}" if staging else str(jar)
    command = [java, *JAVA_OPENS, "-cp", class_path, MAIN_CLASS, "--flink-master", flink_master,
               "--artifacts-dir", str(artifacts), "--job-host", "127.0.0.1",
               "--job-port", str(port), "--artifact-port", "0", "--expansion-port", "0"]
    return command, staging is not None


class JobServerProcess:
    """Beam's Flink job server as a JVM this process starts once per (jar, Flink master) and keeps
    for the jobs it runs, stopped when the process exits.

    Beam's FlinkRunner would start one per pipeline (a JVM start per job) and installs a SIGINT
    handler when it does, which fails in any thread but the main one: the controller runs
    pipelines in worker threads. So launch/flink.py submits to this server's job endpoint with
    Beam's PortableRunner, which is what the FlinkRunner does once its server is up."""

    _lock = threading.Lock()
    _running: dict[tuple[str, str], JobServerProcess] = {}

    def __init__(self, jar: Path, flink_master: str, log_dir: Path) -> None:
        self.jar, self.flink_master = jar, flink_master
        log_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts = Path(tempfile.mkdtemp(prefix="cosbatch-flink-artifacts-"))
        self.port = free_port()
        self.log = log_dir / f"flink-job-server-{self.port}.log"
        command, self.stages_nothing = job_server_command(jar, flink_master, self.artifacts, self.port)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        atexit.register(self.stop)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RunnerUnavailable(f"Beam's Flink job server ({self.jar.name}) exited with "
                                        f"{self.process.returncode}: {_tail(self.log)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RunnerUnavailable(f"Beam's Flink job server did not listen within {timeout:.0f} s: {_tail(self.log)}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.artifacts, ignore_errors=True)

    @classmethod
    def for_master(cls, jar: Path, flink_master: str, log_dir: Path) -> JobServerProcess:
        """The running job server for this jar and Flink master, started if there is none."""
        key = (str(jar), flink_master)
        with cls._lock:
            server = cls._running.get(key)
            if server is None or not server.alive():
                server = cls(jar, flink_master, log_dir)
                try:
                    server.wait_ready()
                except RunnerUnavailable:
                    server.stop()
                    raise
                cls._running[key] = server
            return server


#: What a Java 17 JVM needs to run Flink's client (as Flink's own config passes every JVM).
JAVA_OPENS = ("--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
              "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
              "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
              "--add-opens=java.base/java.net=ALL-UNNAMED", "--add-opens=java.base/java.time=ALL-UNNAMED",
              "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    errors = [line for line in lines if "Exception" in line or "ERROR" in line]
    return (errors[-1] if errors else (lines[-1] if lines else "no output"))[:400] + f" (log: {log})"
