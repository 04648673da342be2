"""User functions for the Invoke operation's tests (imported by module:function name)."""

from __future__ import annotations


def tag_with_size(client, bucket: str, key: str, version_id: str | None, tag: str = "size") -> str:
    size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    client.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": tag, "Value": str(size)}]})
    return f"tagged {key} with {tag}={size}"


def explode(client, bucket: str, key: str, version_id: str | None) -> None:
    raise ValueError(f"cannot handle {key}")


def record_call(client, bucket: str, key: str, version_id: str | None, log: str) -> str:
    """Append the key to the file `log` (one line per call: a test counts how often each task ran);
    a key containing "bad" then fails with UserFunctionError."""
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(key + "\n")
    if "bad" in key:
        raise ValueError(f"refusing {key}")
    return f"recorded {key}"
