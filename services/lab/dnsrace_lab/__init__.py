"""The lab: host-side tools that act on a running stack the way a nemesis or an operator would.

    live.py      the stack's published edges (DNS, dns-admin, Toxiproxy, Redis via the probe proxy, docker)
    nemesis.py   faults on one enactor's network paths, through Toxiproxy — it only injects
    outage.py    make reproduce-outage: the October 2025 race (or a manual deletion), step by step
    narrate.py   the story told from the recorded events, and the source line that crashed
    repair.py    make repair: the operator's manual fix, and how long clients stayed broken after it
"""
