"""A no-op user function for Invoke: measures the manifest and pipeline path, not storage."""


def noop(client, bucket: str, key: str, version_id: str | None) -> None:
    return None
