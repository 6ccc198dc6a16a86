"""The one root alert: what is wrong with the endpoint now, and the first event that led to it.

    root_alert(events, now, negative_ttl_s=...) -> Alerting(alert, resolved, episodes)

Pure, over the event history (the newest events the console keeps) and one observation of now. The
zone's history is dns-admin's own `batch_accepted` events replayed by dnsrace.zone_history, the
functions the chaos checker asks of the audit ("went back", "deleted while referenced").

After each batch the endpoint is BAD when it aliases a plan whose record set is gone, or nothing (it
answers empty), or a plan older than one it has already aliased (it went back). An EPISODE is the run
of batches during which it stays bad: its ROOT is the batch that made it bad, the first event that led
to the alert; its DELETION the batch that removed the plan it aliased; it closes at the first batch
that leaves it good. What else goes wrong meanwhile (crashes, rejected batches, restarts, refused or
failed attempts, alarms) is a FOLLOW-ON: grouped under the alert, never raised on its own.

At most one alert, decided by now, in this order:
    endpoint-empty    the zone: the endpoint aliases a plan that does not exist, or nothing
    endpoint-back     the zone: it aliases a plan older than one it already aliased
    clients-empty     the zone is right but the resolver answers empty: `recovering` if an episode
                      closed within the negative TTL (clients hold a cached negative answer), else open
    resolver-silent   the resolver does not answer at all
It clears itself when the zone is right and the resolver answers; its episode is then `resolved`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dnsrace.events import Event
from dnsrace.plans import generation_of_record_name, plan_id, plan_of_record_name, plan_record_name
from dnsrace.timeline import sentence
from dnsrace.zone_history import Step, alias_of, batches_from_events, exists, replay

from .now import Now

__all__ = ["Alert", "Alerting", "ChainLink", "Episode", "FollowOn", "Resolved", "episodes", "root_alert"]

RECOVERY_SLACK_S = 5.0          # past the negative TTL: CoreDNS's reload (1 s) and the positive TTL
FOLLOW_ON_SEQS_MAX = 50         # seqs kept per group, to highlight in the timeline
FOLLOW_ON_KINDS = {
    "enactor_crashed": "crashed", "batch_rejected": "rejected", "enactor_started": "restarted",
    "apply_failed": "failed an attempt", "write_refused": "had a write refused", "apply_gave_up": "gave up on a plan",
    "lock_gave_up": "gave up on the lock", "enactor_frozen": "froze its writes (ALARM)",
    "endpoint_empty_found": "found the endpoint empty", "plan_rejected": "refused a malformed plan",
    "lock_expired_before_release": "found its lock expired",
}
_WRITER_KINDS = ("endpoint_pointed", "record_set_written", "cleanup_deleted")


@dataclass(frozen=True)
class Episode:
    kind: str                   # "empty" or "back": what the root made of the endpoint
    root: Step
    live_before: str | None     # what the endpoint aliased before the root (None: nothing, or unknown)
    newest_live: int            # the highest generation it had aliased before the root
    target: str | None          # what it aliased after the root
    deletion: Step | None       # the batch that deleted the plan it aliased (the root itself, or later)
    close: Step | None          # the first batch that left it good; None: still bad at the history's end
    last_target: str | None     # what it aliased at the end of the episode


@dataclass(frozen=True)
class ChainLink:
    role: str                   # check, lock, fault, write, deletion, repair ...
    seq: int | None
    t: float
    service: str
    sentence: str

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "seq": self.seq, "t": self.t, "service": self.service, "sentence": self.sentence}


@dataclass(frozen=True)
class FollowOn:
    what: str
    services: tuple[str, ...]
    count: int
    first_t: float
    last_t: float
    seqs: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "services": list(self.services), "count": self.count, "first_t": self.first_t,
                "last_t": self.last_t, "seqs": list(self.seqs)}


@dataclass(frozen=True)
class Alert:
    kind: str
    state: str                  # "open", or "recovering" (the zone is right, clients hold a cached empty answer)
    title: str
    summary: str
    since: float | None
    chain: tuple[ChainLink, ...]
    follow_ons: tuple[FollowOn, ...]
    way_out: str

    @property
    def chain_seqs(self) -> list[int]:
        seqs = {link.seq for link in self.chain if link.seq is not None}
        seqs |= {seq for group in self.follow_ons for seq in group.seqs}
        return sorted(seqs)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "state": self.state, "title": self.title, "summary": self.summary,
                "since": self.since, "chain": [link.to_json() for link in self.chain],
                "follow_ons": [group.to_json() for group in self.follow_ons], "way_out": self.way_out,
                "chain_seqs": self.chain_seqs}


@dataclass(frozen=True)
class Resolved:
    summary: str
    since: float
    cleared_by: str
    cleared_at: float

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary, "since": self.since, "cleared_by": self.cleared_by,
                "cleared_at": self.cleared_at}


@dataclass(frozen=True)
class Alerting:
    alert: Alert | None
    resolved: Resolved | None
    episodes: tuple[Episode, ...]
    newest_live: int


# --- episodes, from the zone's history ----------------------------------------------------------------

def episodes(steps: Sequence[Step], endpoint: str) -> tuple[list[Episode], list[int]]:
    """Every episode in the replayed batches, and the generations the endpoint aliased while it was good.

    "Older than one already live" counts only plans that still exist: after the live plan was deleted,
    the newest plan that exists is the best there is, and pointing at it (the repair) is not going back."""
    found: list[Episode] = []
    aliased: list[int] = []        # sorted: the newest that still exists is found from the end, at once
    current: dict[str, Any] | None = None
    last_target: str | None = None
    key = (endpoint, "ALIAS")
    for step in steps:
        if key not in step.after:
            continue    # a window that has not yet seen the endpoint written knows nothing of it
        target = alias_of(step.after, endpoint)
        present = exists(step.after, target, complete=False) if target else False
        generation = generation_of_record_name(target, endpoint) if target else None
        newest_live = next((g for g in reversed(aliased) if exists(step.after, plan_record_name(plan_id(g), endpoint),
                                                                   complete=False) is not False), 0)
        if target is None or present is False:
            state: str | None = "empty"
        elif generation is not None and generation < newest_live:
            state = "back"
        else:
            state = None
        if state is None:
            if current is not None:
                found.append(Episode(**current, close=step, last_target=last_target))
                current = None
            if generation is not None and (not aliased or aliased[-1] != generation):
                bisect.insort(aliased, generation)
            continue
        if current is None:
            current = {"kind": state, "root": step, "live_before": alias_of(step.before, endpoint),
                       "newest_live": newest_live, "target": target, "deletion": None}
        if state == "empty" and current["deletion"] is None and target is not None and _deletes(step, target):
            current["deletion"] = step
        last_target = target
    if current is not None:
        found.append(Episode(**current, close=None, last_target=last_target))
    return found, aliased


def _deletes(step: Step, name: str) -> bool:
    return any(c.action == "DELETE" and c.type == "A" and c.name == name for c in step.batch.changes)


# --- the alert --------------------------------------------------------------------------------------

def root_alert(events: Sequence[Event], now: Now, *, negative_ttl_s: float) -> Alerting:
    """The one alert (or none) for `now`, explained by `events` (any order; sorted here)."""
    timeline = sorted(events, key=lambda e: (e.t, e.seq or 0))
    steps = replay(batches_from_events(timeline), complete=False)
    found, aliased = episodes(steps, now.endpoint)
    newest_live = next((g for g in reversed(aliased) if plan_record_name(plan_id(g), now.endpoint) in now.a_names), 0)
    last = found[-1] if found else None
    open_episode = last if last is not None and last.close is None else None
    closed = last if last is not None and last.close is not None else None
    target_generation = now.generation(now.endpoint_target)
    zone_wrong: str | None = None
    if now.endpoint_target is None or not now.endpoint_target_exists:
        zone_wrong = "empty"
    elif target_generation is not None and target_generation < newest_live:
        zone_wrong = "back"
    alert: Alert | None = None
    if zone_wrong is not None:
        # The history explains now only if it ends where now is; else its cause is older than what is kept
        # (or its event has not reached the stream yet).
        explained = open_episode if open_episode is not None and open_episode.last_target == now.endpoint_target else None
        alert = _zone_alert(zone_wrong, explained, timeline, now, newest_live)
    elif now.resolver.empty:
        recent = closed is not None and closed.close is not None and \
            now.t - closed.close.batch.t <= negative_ttl_s + RECOVERY_SLACK_S
        alert = _clients_alert(closed if recent else None, timeline, now)
    elif now.resolver.silent:
        alert = Alert("resolver-silent", "open", f"the resolver ({now.resolver.server}) does not answer for "
                      f"{now.endpoint}: {now.resolver.error or 'timeout'}",
                      f"no answer from {now.resolver.server}; the zone aliases {_plan(now.endpoint_target)}, which exists",
                      now.t, (), (), "look at CoreDNS: make ps, make logs")
    resolved = None
    if alert is None and closed is not None and closed.close is not None:
        resolved = Resolved(_summary(closed, timeline), closed.root.batch.t, _cleared_by(closed, timeline),
                            closed.close.batch.t)
    return Alerting(alert, resolved, tuple(found), newest_live)


def _zone_alert(kind: str, episode: Episode | None, timeline: Sequence[Event], now: Now, newest_live: int) -> Alert:
    target = now.endpoint_target
    if kind == "empty":
        title = (f"{now.endpoint} answers EMPTY: it aliases {_plan(target)}, which no longer exists" if target else
                 f"{now.endpoint} answers EMPTY: it aliases nothing")
    else:
        title = (f"{now.endpoint} went BACK to {_plan(target)}, older than {plan_id(newest_live)}, which was "
                 f"already live")
    newest = now.newest_existing
    way_out = (f"Repair (the console's Repair button, or make repair): endpoint -> {plan_id(newest)}, the newest plan that "
               f"exists; rollback record cleared" if newest else "no plan record set exists to point it at")
    if episode is None:
        return Alert(f"endpoint-{kind}", "open", title,
                     "the batch that led here is not among the events kept (older than the history this console "
                     "holds, or not yet in the stream)", None, (), (), way_out)
    return Alert(f"endpoint-{kind}", "open", title, _summary(episode, timeline), episode.root.batch.t,
                 _chain(episode, timeline), _follow_ons(episode, timeline), way_out)


def _clients_alert(episode: Episode | None, timeline: Sequence[Event], now: Now) -> Alert:
    if episode is not None and episode.close is not None:
        ago = now.t - episode.close.batch.t
        ttl = f" (its SOA TTL: {now.resolver.soa_ttl} s)" if now.resolver.soa_ttl is not None else ""
        return Alert("clients-empty", "recovering",
                     f"{now.endpoint}: clients still get an EMPTY answer, cached by the resolver; the zone was "
                     f"fixed {ago:.1f} s ago", f"{_summary(episode, timeline)}; fixed by {_cleared_by(episode, timeline)}",
                     episode.root.batch.t, _chain(episode, timeline), _follow_ons(episode, timeline),
                     f"wait: the resolver answers again when its negative answer expires{ttl}; the authoritative "
                     f"view already answers")
    return Alert("clients-empty", "open",
                 f"{now.endpoint} answers EMPTY at the resolver although it aliases {_plan(now.endpoint_target)}, "
                 f"which exists", f"the authoritative view: {now.authoritative.summary()}; no batch in the events kept "
                 f"explains it", now.t, (), (), "look at CoreDNS and the zone file: make logs, make dig")


# --- words ------------------------------------------------------------------------------------------

def _plan(target: str | None) -> str:
    return plan_of_record_name(target) if target else "nothing"


def _by(step: Step, timeline: Sequence[Event]) -> str:
    """Who made a batch, as a responder would say it."""
    batch = step.batch
    if batch.comment.startswith("cleanup after "):
        return f"{batch.client}'s cleanup (after applying {batch.comment.removeprefix('cleanup after ')})"
    if batch.client == "operator":
        return f"an operator ({batch.change_id}{': ' + batch.comment if batch.comment else ''})"
    if batch.client == "nemesis":
        return f"the nemesis, on purpose ({batch.change_id})"
    return f"{batch.client or 'an unnamed client'} ({batch.change_id})"


def _summary(episode: Episode, timeline: Sequence[Event]) -> str:
    root, target = episode.root, episode.target
    if episode.deletion is root:
        return (f"{_plan(target)}, the live plan, deleted by {_by(root, timeline)} while the endpoint pointed at it; "
                f"nothing pointed it elsewhere since" if episode.close is None else
                f"{_plan(target)}, the live plan, deleted by {_by(root, timeline)} while the endpoint pointed at it")
    was_live = _plan(episode.live_before) if episode.live_before else (
        plan_id(episode.newest_live) if episode.newest_live else "an unknown plan")
    text = f"endpoint → {_plan(target)} written by {root.batch.client or 'an unnamed client'} while {was_live} was live"
    check = _stale_check(episode, timeline)
    if check is not None:
        text += f" (its check was {_seconds(root.batch.t - check.t)} old)"
    if episode.deletion is not None:
        text += (f"; {_plan(target)} deleted by {_by(episode.deletion, timeline)} "
                 f"{_seconds(episode.deletion.batch.t - root.batch.t)} later")
    return text


def _seconds(duration: float) -> str:
    return f"{duration:.2f} s" if abs(duration) < 1 else f"{duration:.1f} s"


def _cleared_by(episode: Episode, timeline: Sequence[Event]) -> str:
    step = episode.close
    if step is None:
        return "nothing yet"
    batch = step.batch
    if any(e.kind == "operator_repair" and e.detail.get("change_id") == batch.change_id for e in timeline) \
            or batch.client == "operator":
        return f"the operator's repair ({batch.change_id})"
    if episode.last_target is not None and any(c.type == "A" and c.name == episode.last_target and c.action != "DELETE"
                                               for c in batch.changes):
        return f"{batch.client} restoring {_plan(episode.last_target)}'s record set ({batch.change_id})"
    pointed = next((c for c in batch.changes if c.type == "ALIAS" and c.action != "DELETE"
                    and not c.name.startswith("rollback.")), None)
    if pointed is not None:
        return f"{batch.client} pointing the endpoint at {_plan(pointed.target)} ({batch.change_id})"
    return f"{batch.client or 'an unnamed client'} ({batch.change_id})"


# --- the causal chain and the follow-ons ------------------------------------------------------------

def _link(role: str, event: Event) -> ChainLink:
    return ChainLink(role, event.seq, event.t, event.service, sentence(event))


def _events_of(step: Step, timeline: Sequence[Event]) -> list[Event]:
    """dns-admin's event for the batch and its client's own event about it (the same change id)."""
    change_id = step.batch.change_id
    return [e for e in timeline if e.detail.get("change_id") == change_id
            and (e.seq == step.batch.seq or e.kind in _WRITER_KINDS)]


def _stale_check(episode: Episode, timeline: Sequence[Event]) -> Event | None:
    """The writer's own check of the plan it wrote back, the last before its write: when it was made."""
    root = episode.root
    if episode.kind != "back" or episode.target is None:
        return None
    plan = _plan(episode.target)
    checks = [e for e in timeline if e.kind == "check_passed" and e.service == root.batch.client and e.plan == plan
              and e.t <= root.batch.t]
    return checks[-1] if checks else None


def _chain(episode: Episode, timeline: Sequence[Event]) -> tuple[ChainLink, ...]:
    root = episode.root
    links: list[ChainLink] = []
    check = _stale_check(episode, timeline)
    if check is not None:
        links.append(_link("check", check))
        locks = [e for e in timeline if e.kind == "lock_acquired" and e.service == check.service
                 and e.plan == check.plan and check.t <= e.t <= root.batch.t]
        links += [_link("lock", e) for e in locks[-1:]]
    links += [_link("fault", e) for e in _faults_during(check.t if check is not None else root.batch.t,
                                                         root.batch.t, timeline)]
    links += [_link("write" if episode.deletion is not root else "deletion", e) for e in _events_of(root, timeline)]
    if episode.deletion is not None and episode.deletion is not root:
        links += [_link("deletion", e) for e in _events_of(episode.deletion, timeline)]
    if episode.deletion is not None:
        target_plan = _plan(episode.target)
        links += [_link("deletion", e) for e in timeline if e.kind == "operator_deleted" and e.plan == target_plan
                  and abs(e.t - episode.deletion.batch.t) < 60]
    if episode.close is not None:
        links += [_link("repair", e) for e in timeline
                  if (e.kind == "operator_repair" and e.detail.get("change_id") == episode.close.batch.change_id)]
        links += [_link("fixed", e) for e in _events_of(episode.close, timeline)]
    unique = {(link.seq, link.role, link.t): link for link in links}
    return tuple(sorted(unique.values(), key=lambda link: (link.t, link.seq or 0)))


def _faults_during(start: float, end: float, timeline: Sequence[Event]) -> list[Event]:
    """The faults the lab had in place at some moment from `start` to `end` (from the writer's check to
    its write): part of how it happened, and a responder must know a fault was injected on purpose."""
    active: dict[tuple[str, str], Event] = {}
    seen: dict[tuple[str, str], Event] = {}
    for event in timeline:
        if event.t > end:
            break
        key = (str(event.detail.get("fault")), str(event.detail.get("target")))
        if event.kind == "fault_started":
            active[key] = event
        elif event.kind == "fault_stopped":
            stopped = list(active) if event.detail.get("fault") == "all" else [key]
            for gone in stopped:
                if gone in active and event.t >= start:
                    seen[gone] = active[gone]
                active.pop(gone, None)
    return sorted([*seen.values(), *active.values()], key=lambda e: (e.t, e.seq or 0))


def _follow_ons(episode: Episode, timeline: Sequence[Event]) -> tuple[FollowOn, ...]:
    start = episode.root.batch.t
    end = episode.close.batch.t if episode.close is not None else float("inf")
    groups: dict[tuple[str, str], list[Event]] = {}
    for event in timeline:
        if event.kind not in FOLLOW_ON_KINDS or not start <= event.t <= end:
            continue
        groups.setdefault((event.kind, _follow_on_key(event)), []).append(event)
    found = []
    for (kind, key), members in groups.items():
        services = tuple(sorted({_actor(e) for e in members}))
        count = len(members)
        what = f"{', '.join(services)} {FOLLOW_ON_KINDS[kind]} {count} time{'s' if count != 1 else ''}" + (
            f": {key}" if key else "")
        if kind == "batch_rejected":
            what = f"dns-admin rejected {count} batch{'es' if count != 1 else ''} from {', '.join(services)}" + (
                f": {key}" if key else "")
        found.append(FollowOn(what, services, count, members[0].t, members[-1].t,
                              tuple(e.seq for e in members[:FOLLOW_ON_SEQS_MAX] if e.seq is not None)))
    return tuple(sorted(found, key=lambda group: group.first_t))


def _actor(event: Event) -> str:
    if event.kind == "batch_rejected":
        return str(event.detail.get("client") or "an unnamed client")
    return event.service


def _follow_on_key(event: Event) -> str:
    detail = event.detail
    if event.kind == "enactor_crashed":
        return f"{detail.get('exception')} at {detail.get('protocol_at') or detail.get('raised_at')}"
    if event.kind == "batch_rejected":
        return str(detail.get("error") or "")
    if event.kind in ("apply_failed", "write_refused"):
        return str(detail.get("error") or "").split(":", 1)[0]
    return ""
