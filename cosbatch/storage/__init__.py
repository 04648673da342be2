"""Everything about reaching object storage: named storages and which one a job binds to,
the boto3 and lean SigV4 clients, and the embedded SeaweedFS server.

A storage is a value (`Storage`) passed down with the job: JobService → Scheduler →
launch → pipeline options → DoFn setup(). It must not import the controller, the
pipelines, launch, the store or the API.
"""

from cosbatch.storage.catalog import (
    StorageCatalog,
    StorageForbidden,
    StorageNotConfigured,
    load_storage_config,
    role_name,
)
from cosbatch.storage.clients import StorageClients, client_of_kind, make_client
from cosbatch.storage.config import CredentialsRef, Storage, implicit_storage

__all__ = [
    "CredentialsRef",
    "Storage",
    "StorageCatalog",
    "StorageClients",
    "StorageForbidden",
    "StorageNotConfigured",
    "client_of_kind",
    "implicit_storage",
    "load_storage_config",
    "make_client",
    "role_name",
]
