"""Fly.io's replay protocol: read a `fly-replay` response header, choose the node it names,
and write the `fly-replay-src` request header the replayed request carries.

Fly documents `fly-replay` as `;`-separated `name=value` fields (a value may be quoted):
`region` (one code, or several comma-separated in order of preference), `instance`,
`elsewhere` (exclude the node that answered) and `state` (an opaque string handed back in
`fly-replay-src`). Cross-app fields (`app`, `prefer_instance`, `timeout`, `fallback`) have no
meaning in a one-app local mesh and are refused, so code that relies on them fails loudly here
rather than behaving differently than on Fly.

ReplayError (ValueError)
├── InvalidReplayHeader      the `fly-replay` value cannot be read
└── NoReplayTarget           no configured node matches the target it names
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from runtime.mesh.settings import MeshNode

_FIELDS: Final = frozenset({"region", "instance", "elsewhere", "state"})
_UNSUPPORTED_FIELDS: Final = frozenset({"app", "prefer_instance", "timeout", "fallback"})


class ReplayError(ValueError):
    """Base class of the replay errors."""


class InvalidReplayHeader(ReplayError):
    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"fly-replay {value!r}: {reason}")
        self.value = value
        self.reason = reason


class NoReplayTarget(ReplayError):
    """`.target` says what was asked for, e.g. "a node in region 'syd'"."""

    def __init__(self, target: str) -> None:
        super().__init__(f"fly-replay asked for {target}, but no configured node matches")
        self.target = target


@dataclass(frozen=True)
class ReplayInstruction:
    """What one `fly-replay` header asks for."""

    regions: tuple[str, ...] = ()
    instance: str | None = None
    elsewhere: bool = False
    state: str | None = None


def parse_replay_header(value: str) -> ReplayInstruction:
    """The instruction in a `fly-replay` value; else `InvalidReplayHeader`."""
    fields: dict[str, str] = {}
    for field in _split_fields(value):
        name, equals, raw = field.partition("=")
        name = name.strip().lower()
        if not equals or not name:
            raise InvalidReplayHeader(value, f"field {field.strip()!r} is not name=value")
        if name in _UNSUPPORTED_FIELDS:
            raise InvalidReplayHeader(value, f"field {name!r} is not supported by the mesh proxy")
        if name not in _FIELDS:
            raise InvalidReplayHeader(value, f"unknown field {name!r}")
        if name in fields:
            raise InvalidReplayHeader(value, f"field {name!r} is given twice")
        fields[name] = _unquote(raw.strip())

    regions: tuple[str, ...] = ()
    if "region" in fields:
        regions = tuple(code.strip() for code in fields["region"].split(","))
        if not all(regions):
            raise InvalidReplayHeader(value, "region must list one or more region codes")
    instance = fields.get("instance")
    if instance is not None and not instance:
        raise InvalidReplayHeader(value, "instance is empty")
    elsewhere = fields.get("elsewhere", "false").lower()
    if elsewhere not in ("true", "false"):
        raise InvalidReplayHeader(value, f"elsewhere must be true or false, not {elsewhere!r}")
    instruction = ReplayInstruction(
        regions=regions,
        instance=instance,
        elsewhere=elsewhere == "true",
        state=fields.get("state"),
    )
    if not (instruction.regions or instruction.instance or instruction.elsewhere):
        raise InvalidReplayHeader(value, "names no target (region, instance or elsewhere=true)")
    return instruction


def choose_replay_target(
    instruction: ReplayInstruction, nodes: Iterable[MeshNode], *, answered_by: MeshNode
) -> MeshNode:
    """The node the instruction sends the request to, the first configured that fits; else
    `NoReplayTarget`.

    `elsewhere=true` rules out `answered_by`; with no region or instance, any other node fits.
    """
    candidates = [n for n in nodes if not (instruction.elsewhere and n == answered_by)]
    if instruction.instance is not None:
        candidates = [n for n in candidates if n.instance == instruction.instance]
    if instruction.regions:
        for region in instruction.regions:
            for node in candidates:
                if node.region == region:
                    return node
    elif candidates:
        return candidates[0]
    raise NoReplayTarget(_describe_target(instruction, answered_by))


def format_replay_source(answered_by: MeshNode, state: str | None, *, at_microseconds: int) -> str:
    """The `fly-replay-src` value for a request replayed after `answered_by` asked for it."""
    source = f"instance={answered_by.instance};region={answered_by.region};t={at_microseconds}"
    return source if state is None else f"{source};state={state}"


def _describe_target(instruction: ReplayInstruction, answered_by: MeshNode) -> str:
    target = "a node" if instruction.instance is None else f"instance {instruction.instance!r}"
    if instruction.regions:
        target += " in region " + " or ".join(repr(code) for code in instruction.regions)
    if instruction.elsewhere:
        target += f" other than {answered_by.instance!r}"
    return target


def _split_fields(value: str) -> list[str]:
    """`value` split at each `;` outside double quotes, empty fields dropped."""
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise InvalidReplayHeader(value, "a quoted value is not closed")
    fields.append("".join(current))
    non_empty = [field for field in fields if field.strip()]
    if not non_empty:
        raise InvalidReplayHeader(value, "the header is empty")
    return non_empty


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    return raw
