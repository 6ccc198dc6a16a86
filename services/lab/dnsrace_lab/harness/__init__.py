"""The harness: how a run is driven, recorded and judged, the same way for every run the lab makes
(make reproduce-outage and make chaos).

    client.py       DNS probes of the endpoint, each an operation (invoke, then ok / fail / info)
    nemesis.py      faults: toxics and partitions on one enactor's paths, pause/kill of containers, the live
                    plan deleted through the API; it only injects
    recording.py    the edge to the live stack: exports, final reads, container logs, one history
    history.py      the history's format: one JSONL file, the run line first; its only writer
    checker/        the one judge: invariants (1)-(6), one module each, over a history alone
    conformance.py  the model verdict (M): a history's events against model/dnsrace.pml (Spin)
    report/         a run's folder (results.json, timeline.html: timeline_svg.py) and a campaign's text tables
"""
