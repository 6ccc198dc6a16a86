"""The DNS enactor: takes the newest plan and applies it to the zone through dns-admin.

One apply loop (apply_loop.py) is shared by every mode; a mode is a *variant* that makes the few
decisions where modes differ. Only `legacy` exists today: faithful to the October 2025 incident,
bug included (legacy.py, marked "THE BUG").
"""
