"""What a Flink cluster started by launch/flink_cluster.py puts on its class path from Beam's job
server folder, so that jobs need not ship it: Beam's jars, none of what Flink's own distribution
already has (a second copy of Flink's classes or of its logging binding would clash)."""

from __future__ import annotations

from launch import flink_cluster, flink_job_server


def test_runner_class_path_leaves_out_what_flink_has(tmp_path):
    jar = tmp_path / "beam-runners-flink-1.19-job-server-2.62.0.jar"
    lib = tmp_path / "beam-runners-flink-1.19-job-server-2.62.0"
    lib.mkdir()
    names = ["beam-sdks-java-core-2.62.0.jar", "beam-runners-flink-1.19-2.62.0.jar", "flink-core-1.19.0.jar",
             "slf4j-simple-1.7.30.jar", "slf4j-api-1.7.30.jar", "kryo-2.24.0.jar", "guava-33.3.1-android.jar"]
    for name in names:
        (lib / name).write_bytes(b"PK")
    kept = [path.name for path in flink_job_server.runner_class_path(jar)]
    assert kept == ["beam-runners-flink-1.19-2.62.0.jar", "beam-sdks-java-core-2.62.0.jar", "guava-33.3.1-android.jar"]


def test_a_shaded_job_server_jar_gives_nothing_to_put_on_the_class_path(tmp_path):
    jar = tmp_path / "beam-runners-flink-1.19-job-server-2.62.0.jar"
    jar.write_bytes(b"PK")
    assert flink_job_server.runner_class_path(jar) == []
    assert flink_job_server.nothing_to_stage_jar(jar) is None


def test_cluster_class_path_is_flinks_lib_then_the_runner_jars(tmp_path):
    cluster = flink_cluster.Cluster(8081, tmp_path)
    home = tmp_path / "flink"
    assert flink_cluster._class_path(home, cluster) == f"{home / 'lib'}/*"
    (tmp_path / "class-path.txt").write_text("/a/beam-one.jar\n/a/beam-two.jar\n")
    assert flink_cluster._class_path(home, cluster) == f"{home / 'lib'}/*:/a/beam-one.jar:/a/beam-two.jar"
