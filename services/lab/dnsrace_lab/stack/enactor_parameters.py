"""What the enactors run with, as they said it in their `enactor_started` events: the lab's only source.

The lock's TTL (a pause must outlast it), K (a hold must fall K plans behind) and the self-check's
deadline (the DNS latency the generator draws around it) are the enactors' settings. The lab never
assumes them from a copied default: it reads the newest `enactor_started` event of each enactor, and
refuses to go on if one is missing, lacks a value, or the three disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dnsrace.events import Event

from dnsrace_lab.stack.names import ENACTORS

__all__ = ["EnactorParameters", "ParametersUnknown"]

_NUMBERS = ("keep_generations", "lock_ttl_ms", "self_check_timeout_ms")


class ParametersUnknown(Exception):
    """The events do not say, or do not agree on, what the enactors run with."""


@dataclass(frozen=True)
class EnactorParameters:
    mode: str
    keep_generations: int
    lock_ttl_ms: int
    self_check_timeout_ms: int

    @property
    def lock_ttl_s(self) -> float:
        return self.lock_ttl_ms / 1000

    @classmethod
    def from_events(cls, events: Iterable[Event], enactors: Iterable[str] = ENACTORS) -> EnactorParameters:
        """From the newest enactor_started event of each enactor (events oldest first)."""
        wanted = tuple(enactors)
        newest = {e.service: e for e in events if e.kind == "enactor_started" and e.service in wanted}
        missing = [name for name in wanted if name not in newest]
        if missing:
            raise ParametersUnknown(f"no enactor_started event from {', '.join(missing)}")
        said = {}
        for name, event in newest.items():
            values = {key: event.detail.get(key) for key in _NUMBERS}
            unsaid = [key for key, value in values.items() if not isinstance(value, int) or isinstance(value, bool)]
            if unsaid or not isinstance(event.detail.get("mode"), str):
                raise ParametersUnknown(f"{name}'s enactor_started (event #{event.seq}) does not say "
                                        f"{', '.join(unsaid) or 'its mode'}: an image older than the lab? make up")
            detail = event.detail
            said[name] = cls(str(detail["mode"]), keep_generations=int(detail["keep_generations"]),
                             lock_ttl_ms=int(detail["lock_ttl_ms"]), self_check_timeout_ms=int(detail["self_check_timeout_ms"]))
        if len(set(said.values())) > 1:
            raise ParametersUnknown("the enactors disagree: " + "; ".join(f"{name} {p}" for name, p in said.items()))
        return said[wanted[0]]
