"""The lab: host-side tools that act on a running stack the way a nemesis or an operator would.

    stack/     the running stack's names, edges and state; make reset, status, repair
    harness/   drive, record and judge a run: client, nemesis, recording, history, checker/, conformance, report/
    outage/    make reproduce-outage: the incident's scenarios, step by step
    chaos/     make chaos: the seeded campaign and its generator
Each package's docstring says what lives where.
"""
