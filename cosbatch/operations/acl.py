"""PutObjectAcl: a canned ACL or an explicit grant list on each object."""

from __future__ import annotations

from typing import Any, ClassVar

from cosbatch.manifests import Task
from cosbatch.models.operation_params import PutObjectAcl

_GRANTEE_TYPES = {"id": "CanonicalUser", "emailAddress": "AmazonCustomerByEmail", "uri": "Group"}
_GRANTEE_FIELD = {"id": "ID", "emailAddress": "EmailAddress", "uri": "URI"}


class PutAclOperation:
    name: ClassVar[str] = "S3PutObjectAcl"
    client_kind: ClassVar[str] = "boto3"

    def __init__(self, params: PutObjectAcl) -> None:
        policy = params.access_control_policy
        if policy.canned_access_control_list:
            self.args: dict[str, Any] = {"ACL": policy.canned_access_control_list}
        else:
            acl = policy.access_control_list
            assert acl is not None
            grants = []
            for g in acl.grants:
                kind = g.grantee.type_identifier or "id"
                grantee: dict[str, str] = {"Type": _GRANTEE_TYPES.get(kind, "CanonicalUser")}
                if g.grantee.identifier:
                    grantee[_GRANTEE_FIELD.get(kind, "ID")] = g.grantee.identifier
                if g.grantee.display_name:
                    grantee["DisplayName"] = g.grantee.display_name
                grants.append({"Grantee": grantee, "Permission": g.permission})
            owner = {k: v for k, v in (("ID", acl.owner.id), ("DisplayName", acl.owner.display_name)) if v}
            self.args = {"AccessControlPolicy": {"Grants": grants, "Owner": owner}}

    def apply(self, client: Any, task: Task) -> str:
        extra = {"VersionId": task.version_id} if task.version_id else {}
        client.put_object_acl(Bucket=task.bucket, Key=task.key, **self.args, **extra)
        return "Successful"
