"""bench/summarize_rates.py reads each reproduce-rate folder's name back into its mode and scenario."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("summarize_rates",
                                              Path(__file__).resolve().parents[2] / "bench" / "summarize_rates.py")
assert SPEC is not None and SPEC.loader is not None
summarize_rates = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(summarize_rates)


@pytest.mark.parametrize(("name", "expected"), [
    ("20261207T140000Z-legacy-race", ("legacy", "race")),
    ("20261207T140000Z-safe-manual-delete", ("safe", "manual-delete")),
    ("20261207T140000Z-dwfm-safe-cascade", ("dwfm-safe", "cascade")),
    ("20261207T140000Z-dwfm-legacy-cascade-mitigate", ("dwfm-legacy", "cascade-mitigate")),
    ("20261207T140000Z-dwfm-legacy-nlb-legacy-netmgr-legacy-cascade-full",
     ("dwfm-legacy-nlb-legacy-netmgr-legacy", "cascade-full")),
    ("20261207T140000Z-dwfm-safe-nlb-safe-netmgr-legacy-cascade-full", ("dwfm-safe-nlb-safe-netmgr-legacy", "cascade-full")),
])
def test_a_folder_name_gives_its_mode_and_scenario(name: str, expected: tuple[str, str]) -> None:
    assert summarize_rates.mode_and_scenario(name) == expected


def test_both_designs_of_cascade_full_have_their_measures() -> None:
    for designs in (summarize_rates.CASCADE_FULL_LEGACY, summarize_rates.CASCADE_FULL_SAFE):
        assert summarize_rates.mode_and_scenario(f"20261207T140000Z-{designs}-cascade-full")[0] == designs
        assert summarize_rates.JUDGED[(designs, "cascade-full")]
