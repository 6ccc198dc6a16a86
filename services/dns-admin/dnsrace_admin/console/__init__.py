"""The responder's console: one page at http://127.0.0.1:8080/, served by dns-admin, and its JSON API.

The incident's responders lost time to UUID plan names, to a flood of alerts and to logs that did not
show the sequence of events. This page shows what the resolver answers now, raises one root alert for
the endpoint naming the first event that led to it (follow-on symptoms grouped under it), and offers
the one-step repair behind a confirmation and the bearer token.

Pure, and unit-tested on recorded and hand-written histories:
    now.py        one observation of the present (the zone as dns-admin holds it, CoreDNS's answers)
    alert.py      the root alert: episodes of a bad endpoint replayed from dns-admin's batch events
                  (dnsrace.zone_history, shared with the chaos checker), its causal chain, follow-ons
    panels.py     the enactors, the plans and the timeline's rows, from the same events
    status.py     GET /api/status assembled from the above
    repair.py     the repair batch: endpoint -> the newest existing plan, rollback record cleared
I/O at the edges:
    observe.py    the newest events from the Redis stream (kept incrementally), CoreDNS, the planner's plans
    routes.py     the page, /api/*, server-sent events; static/ holds the page (no build, nothing fetched
                  from elsewhere)
"""
