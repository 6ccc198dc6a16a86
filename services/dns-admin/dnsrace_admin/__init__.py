"""dns-admin: the Route 53 stand-in of dnsrace.

It owns one zone, applies change batches all-or-nothing (rules.py, pure), commits each accepted batch
durably with its audit row (store.py, SQLite), renders the zone file CoreDNS serves (zone_file.py),
reports every decision as an event (event_sink.py), and serves all of it as JSON over HTTP
(http_api.py). engine.py is the one parent function that sequences those effects.
"""
