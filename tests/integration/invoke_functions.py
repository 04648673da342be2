"""User functions for the Invoke operation's tests (imported by module:function name)."""

from __future__ import annotations


def tag_with_size(client, bucket: str, key: str, version_id: str | None, tag: str = "size") -> str:
    size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    client.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": tag, "Value": str(size)}]})
    return f"tagged {key} with {tag}={size}"


def explode(client, bucket: str, key: str, version_id: str | None) -> None:
    raise ValueError(f"cannot handle {key}")
