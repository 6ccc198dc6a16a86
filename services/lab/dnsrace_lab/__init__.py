"""The lab: host-side tools that act on a running stack the way a nemesis or an operator would.

    live.py      the stack's published edges (DNS, dns-admin, Toxiproxy, Redis via the probe proxy, docker)
    nemesis.py   faults: toxics and partitions on one enactor's paths, pause/kill of containers, the live
                 plan deleted through the API — it only injects
    client.py    DNS probes of the endpoint, each an operation (invoke, then ok / fail / info)
    checker.py   pure verdicts over a recorded history (the scenarios' measures, the campaign's invariants)
    generator.py make chaos: a seeded fault schedule (pure)
    history.py   make chaos: one run's history, one JSONL file
    chaos.py     make chaos: the campaign — reset, schedule, probes, faults, recovery, history, verdicts
    report.py    make chaos: store/chaos/<run>/ (results, logs, timeline.html), the rows and the summary
    outage.py    make reproduce-outage: the October 2025 race (or a manual deletion), step by step
    narrate.py   the story told from the recorded events, and the source line that crashed
    repair.py    make repair: the operator's manual fix, and how long clients stayed broken after it
"""
