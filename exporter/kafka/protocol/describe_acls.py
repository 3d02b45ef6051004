"""DescribeAcls, asked only to learn whether the cluster has an authorizer at all: without one the broker
answers SECURITY_DISABLED; with one, lagwatch's read-only principal (no Describe on the cluster) gets
CLUSTER_AUTHORIZATION_FAILED. Nothing else of the answer is read."""

from __future__ import annotations

from dataclasses import dataclass

from kafka.protocol.admin import DescribeAclsRequest

_ANY = 1  # resource type, pattern type, operation and permission type: any


@dataclass(frozen=True)
class DescribeAcls:
    def request(self) -> DescribeAclsRequest:
        return DescribeAclsRequest(resource_type_filter=_ANY, resource_name_filter=None, pattern_type_filter=_ANY,
                                   principal_filter=None, host_filter=None, operation=_ANY, permission_type=_ANY,
                                   max_version=1)

    def decode(self, response) -> int:
        """The answer's error code."""
        return response.error_code
