"""What the mesh proxy answers instead of a node: RFC 9457 problem details.

Each problem is an exception raised where the proxy gives up on a request and turned into a
response in one place (`problem_body`). Details name the value or node at fault, never an
exception or a traceback.

MeshProblem                     status  type (under https://authpi.dev/problems/)
├── UnknownLocation             400     unknown-location
├── InternalPath                404     not-found
├── RequestBodyTooLarge         413     request-too-large
├── ReplayBodyTooLarge          413     replay-body-too-large
├── InvalidReplay               502     invalid-replay-header
├── ReplayLimitReached          502     replay-limit
├── UpstreamUnreachable         502     upstream-unreachable
├── EntryRegionUnavailable      503     entry-region-unavailable
├── ReplayTargetUnavailable     503     replay-target-unavailable
└── UpstreamTimeout             504     upstream-timeout
"""

from __future__ import annotations

from typing import ClassVar, Final

import orjson

from runtime.mesh.settings import MeshNode

PROBLEM_TYPE_BASE: Final = "https://authpi.dev/problems/"
PROBLEM_CONTENT_TYPE: Final = "application/problem+json"


class MeshProblem(Exception):
    status: ClassVar[int]
    slug: ClassVar[str]
    title: ClassVar[str]

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownLocation(MeshProblem):
    status = 400
    slug = "unknown-location"
    title = "Unknown client location"

    def __init__(self, location: str) -> None:
        super().__init__(f"X-Client-Location {location!r} is not a location the mesh can place.")


class InternalPath(MeshProblem):
    status = 404
    slug = "not-found"
    title = "Not found"

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is under /_internal/, which only nodes may call.")


class RequestBodyTooLarge(MeshProblem):
    status = 413
    slug = "request-too-large"
    title = "Request body too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than the {limit} bytes the mesh accepts.")


class ReplayBodyTooLarge(MeshProblem):
    status = 413
    slug = "replay-body-too-large"
    title = "Request body too large to replay"

    def __init__(self, size: int, limit: int, answered_by: MeshNode) -> None:
        super().__init__(
            f"Node {answered_by.instance} asked for a replay, but the request body of {size} bytes "
            f"is larger than the {limit} bytes a replay can carry."
        )


class InvalidReplay(MeshProblem):
    status = 502
    slug = "invalid-replay-header"
    title = "Invalid fly-replay header"

    def __init__(self, answered_by: MeshNode, value: str, reason: str) -> None:
        super().__init__(f"Node {answered_by.instance} answered fly-replay {value!r}: {reason}.")


class ReplayLimitReached(MeshProblem):
    status = 502
    slug = "replay-limit"
    title = "Too many replays"

    def __init__(self, limit: int, path: list[str]) -> None:
        super().__init__(
            f"The request was replayed {limit} times, the most the mesh allows; "
            f"it went through {','.join(path)}."
        )


class UpstreamUnreachable(MeshProblem):
    status = 502
    slug = "upstream-unreachable"
    title = "Node unreachable"

    def __init__(self, node: MeshNode) -> None:
        super().__init__(f"Node {node.instance} in region {node.region} could not be reached.")


class EntryRegionUnavailable(MeshProblem):
    status = 503
    slug = "entry-region-unavailable"
    title = "No node in the entry region"

    def __init__(self, location: str, region: str) -> None:
        super().__init__(
            f"X-Client-Location {location!r} enters at region {region!r}, which has no node."
        )


class ReplayTargetUnavailable(MeshProblem):
    status = 503
    slug = "replay-target-unavailable"
    title = "No node for the replay target"

    def __init__(self, answered_by: MeshNode, target: str) -> None:
        super().__init__(
            f"Node {answered_by.instance} asked for a replay to {target}, "
            "but no configured node matches."
        )


class UpstreamTimeout(MeshProblem):
    status = 504
    slug = "upstream-timeout"
    title = "Node timed out"

    def __init__(self, node: MeshNode, seconds: float) -> None:
        super().__init__(
            f"Node {node.instance} in region {node.region} did not answer within {seconds:g} s."
        )


def problem_body(problem: MeshProblem) -> bytes:
    """The RFC 9457 §3 problem details object for `problem`, as JSON."""
    return orjson.dumps(
        {
            "type": PROBLEM_TYPE_BASE + problem.slug,
            "title": problem.title,
            "status": problem.status,
            "detail": problem.detail,
        }
    )
