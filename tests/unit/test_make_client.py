"""make_client: credentials come fresh for every client, whether the storage names its keys'
environment variables (clients share one session) or leaves them to boto3's chain."""

from __future__ import annotations

import pytest

from cosbatch.storage import CredentialsRef, implicit_storage, make_client
from cosbatch.storage.config import Storage


def _keys(client) -> tuple[str, str]:
    creds = client._request_signer._credentials.get_frozen_credentials()
    return creds.access_key, creds.secret_key


def _named(ak_env: str, sk_env: str) -> Storage:
    from dataclasses import replace

    return replace(implicit_storage("http://127.0.0.1:9"), credentials=CredentialsRef(ak_env, sk_env))


def test_storages_naming_their_keys_each_get_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAST_AK", "east-key")
    monkeypatch.setenv("EAST_SK", "east-secret")
    monkeypatch.setenv("WEST_AK", "west-key")
    monkeypatch.setenv("WEST_SK", "west-secret")
    east, west = make_client(_named("EAST_AK", "EAST_SK")), make_client(_named("WEST_AK", "WEST_SK"))
    assert _keys(east) == ("east-key", "east-secret")
    assert _keys(west) == ("west-key", "west-secret")
    monkeypatch.setenv("EAST_AK", "east-key-2")
    assert _keys(make_client(_named("EAST_AK", "EAST_SK")))[0] == "east-key-2"  # read now, not cached
    assert _keys(east)[0] == "east-key"  # an earlier client keeps what it was made with


def test_default_chain_is_resolved_for_each_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    storage = implicit_storage("http://127.0.0.1:9")
    assert _keys(make_client(storage)) == ("first", "first-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "second-secret")
    assert _keys(make_client(storage)) == ("second", "second-secret")


def test_held_clients_are_shared_until_the_last_holder_lets_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline's manifest reader and results recorder hold one client between them; once both
    let go it is closed, and the next holder gets a new one (fresh credentials)."""
    from cosbatch.storage import clients

    made = []
    real = clients.make_client
    monkeypatch.setattr(clients, "make_client", lambda storage: made.append(storage) or real(storage))
    storage = implicit_storage("http://127.0.0.1:9")
    reader, recorder = clients.hold_client(storage), clients.hold_client(storage)
    assert reader is recorder and len(made) == 1
    clients.let_go_client(storage)
    assert clients.hold_client(storage) is reader  # still held by one: the same client
    clients.let_go_client(storage)
    clients.let_go_client(storage)  # the last holder: closed and forgotten
    assert clients.hold_client(storage) is not reader and len(made) == 2
    clients.let_go_client(storage)
    clients.let_go_client(storage)  # one more than held: nothing to do
