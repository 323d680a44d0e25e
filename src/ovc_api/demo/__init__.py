"""Demo data for `ovc-api demo`: realistic, and only ever loaded into a throwaway database.

The organisations are fictional, modelled on the kinds of members the network has: a
family-strengthening NGO in Battambang, a residential home in Phnom Penh, an education
charity in Pursat, and the provincial social affairs department that refers cases. Their
cases are generated from the situations the network's members describe (parents who
migrated to Thailand leaving children with grandparents, no birth certificates, emergency
food packages, children brought to beg...).

- `data/*.json`: the scenario data (organisations, names, places, scenarios, profiles,
  casework texts, sharing); `tables.py` reads it into typed tables.
- `builder.py`: generates each organisation's cases from the tables (fixed seed).
- `sharing.py`: the directory, referrals in every state, services and conferences.
- `loader.py`: `load_demo_data`, what `ovc-api demo` runs.
"""

from __future__ import annotations

from ovc_api.demo.builder import DemoBuilder, Staff
from ovc_api.demo.loader import DEMO_PASSWORD, DEMO_SEED, load_demo_data
from ovc_api.demo.tables import DEMO_CASES, PROFILES

__all__ = [
    "DEMO_CASES",
    "DEMO_PASSWORD",
    "DEMO_SEED",
    "PROFILES",
    "DemoBuilder",
    "Staff",
    "load_demo_data",
]
