"""One `cosbatch serve` (SigV4 / COS auth on, two accounts) shared by the API tests."""

from __future__ import annotations

import pytest

from tests.support.api_server import Key, start_api_server

ALICE = Key("111122223333", "AKIDALICE000000001", "alice-secret-key-0001")
BOB = Key("444455556666", "AKIDBOB00000000002", "bob-secret-key-000002")


@pytest.fixture(scope="session")
def api(tmp_path_factory, s3_server):
    server = start_api_server(tmp_path_factory.mktemp("api"), s3_server.endpoint_url, [ALICE, BOB])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def alice(api):
    return api.s3control(ALICE)


@pytest.fixture(scope="session")
def bob(api):
    return api.s3control(BOB)
