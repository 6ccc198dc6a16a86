"""The running stack, as the lab sees it from the host: its names, its edges, its state.

    names.py               the stack's fixed names, images, ports, PYTHONPATH (one place; compose is held to it)
    live.py                the published edges: DNS, dns-admin, Toxiproxy, Redis via the probe proxy, docker
    enactor_parameters.py  the enactors' lock TTL, K and deadlines, as their enactor_started events say them
    state.py               the lab's state in one line (make ps; every target's precondition)
    reset.py               make reset: the lab back to its first second, in place
    status.py              make status: the console's root alert in a terminal
    repair.py              make repair: the operator's fix, and how long clients stayed broken after it
    signals.py             Ctrl-C and SIGTERM for the lab's runs: cancel, heal, remember
"""
