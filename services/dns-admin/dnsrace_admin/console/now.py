"""One observation of the present: what dns-admin's zone says and what CoreDNS answers, at one moment.

Observed at the edges (observe.py); the pure functions take it as it is. "Now" is asked of CoreDNS, as
clients ask it, not read from the store: a zone that is right can still be served empty by a resolver
holding a cached negative answer, and that is what clients get.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnsrace.plans import generation_of_record_name, plan_id, plan_of_record_name


@dataclass(frozen=True)
class Answer:
    """CoreDNS's answer for the endpoint's A records, on one of its two listeners."""

    view: str                      # "resolver" (cached, what clients use) or "authoritative" (no cache)
    server: str                    # e.g. "coredns:53"
    rcode: str | None              # NOERROR, NXDOMAIN, SERVFAIL ...; None: no answer at all
    addresses: tuple[str, ...] = ()
    soa_ttl: int | None = None     # a negative answer's SOA TTL: how long a resolver may keep it
    error: str | None = None       # why there was no answer (a timeout, a refused connection)

    @property
    def silent(self) -> bool:
        return self.rcode is None

    @property
    def empty(self) -> bool:
        """An answer that certainly has no address (NXDOMAIN, or NODATA); a silent one is not empty."""
        return self.rcode is not None and not self.addresses

    def to_json(self) -> dict[str, Any]:
        return {"view": self.view, "server": self.server, "rcode": self.rcode, "addresses": list(self.addresses),
                "soa_ttl": self.soa_ttl, "error": self.error, "empty": self.empty}

    def summary(self) -> str:
        if self.rcode is None:
            return f"no answer ({self.error or 'timeout'})"
        if self.addresses:
            return f"{self.rcode}, {len(self.addresses)} address{'es' if len(self.addresses) != 1 else ''}: " \
                   f"{', '.join(self.addresses)}"
        kind = "NODATA: the name exists, it has no A records" if self.rcode == "NOERROR" else "no such name"
        cached = f"; a resolver may keep it {self.soa_ttl} s" if self.soa_ttl is not None else ""
        return f"{self.rcode}, EMPTY ({kind}{cached})"


@dataclass(frozen=True)
class Now:
    t: float
    endpoint: str
    endpoint_target: str | None         # what the endpoint aliases in dns-admin's zone
    rollback_target: str | None
    a_names: frozenset[str]             # every A record set that exists (plan record sets among them)
    serial: int
    resolver: Answer
    authoritative: Answer
    newest_published: int | None = None                        # the planner's newest generation (Redis)
    created: Mapping[int, float] = field(default_factory=dict)  # when plans were published, where known

    @property
    def endpoint_target_exists(self) -> bool:
        return self.endpoint_target is not None and self.endpoint_target in self.a_names

    @property
    def plan_generations(self) -> tuple[int, ...]:
        """The endpoint's plans whose record set exists, oldest first."""
        found = (generation_of_record_name(name, self.endpoint) for name in self.a_names)
        return tuple(sorted(g for g in found if g is not None))

    @property
    def newest_existing(self) -> int | None:
        return self.plan_generations[-1] if self.plan_generations else None

    def generation(self, target: str | None) -> int | None:
        return generation_of_record_name(target, self.endpoint) if target else None

    def plan_json(self, target: str | None) -> dict[str, Any] | None:
        """A plan record set named by the zone (the endpoint's or the rollback's target), for the page."""
        if target is None:
            return None
        generation = self.generation(target)
        return {"name": target, "plan": plan_id(generation) if generation else plan_of_record_name(target),
                "generation": generation, "exists": target in self.a_names,
                "created": self.created.get(generation) if generation else None}

    def generation_json(self, generation: int | None) -> dict[str, Any] | None:
        if generation is None:
            return None
        return {"plan": plan_id(generation), "generation": generation, "created": self.created.get(generation),
                "exists": generation in self.plan_generations}
