"""The municipality's configuration files (config/): the flag rules and the support offices."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "config"


@cache
def load_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def rules(path: Path | None = None) -> dict:
    """config/rules.yml: the rule set, with its version (recorded with every list)."""
    cfg = load_yaml(path or CONFIG_DIR / "rules.yml")
    missing = {"version", "min_domains", "signals"} - set(cfg)
    if missing:
        raise ValueError(f"rules.yml: missing {', '.join(sorted(missing))}")
    review = {"valid_days": 180, "due_days": 14} | (cfg.get("review") or {})
    return cfg | {"review": review}


def offices(path: Path | None = None) -> dict:
    """config/offices.yml: support offices, the town-block prefixes each serves, and the default office."""
    cfg = load_yaml(path or CONFIG_DIR / "offices.yml")
    return {"default_office": cfg.get("default_office") or {"code": "00", "name": "こども家庭センター"},
            "offices": cfg.get("offices") or []}


def governance(path: Path | None = None) -> dict:
    """config/governance.yml: small-cell threshold, retention periods, the analysts' token purpose."""
    cfg = load_yaml(path or CONFIG_DIR / "governance.yml")
    return {"small_cell_threshold": int(cfg.get("small_cell_threshold", 5)),
            "removed_person_days": int(cfg.get("retention", {}).get("removed_person_days", 90)),
            "export_days": int(cfg.get("retention", {}).get("export_days", 30)),
            "purpose": cfg.get("pseudonyms", {}).get("purpose", "analysis"),
            "lawful_basis": _lawful_basis(cfg.get("lawful_basis", "public_task")),
            "access_alert_per_user_per_day": int((cfg.get("access_alert") or {}).get("per_user_per_day", 20)),
            "fairness_band": tuple(float(x) for x in cfg.get("fairness_band", (0.5, 2.0))),
            "agreements": {name: _agreement(name, a) for name, a in (cfg.get("agreements") or {}).items()}}


def _agreement(extract: str, a: dict) -> dict:
    """An agreement under which another organisation's data is used: lawful basis, name, date signed."""
    if not isinstance(a, dict) or a.get("lawful_basis") != "agreement" or not a.get("name") \
            or not isinstance(a.get("signed_on"), date):
        raise ValueError(f"governance.yml: agreements.{extract} needs lawful_basis: agreement, its name and "
                         f"signed_on (a date, YYYY-MM-DD); found {a!r}")
    return {"lawful_basis": "agreement", "name": str(a["name"]), "signed_on": a["signed_on"].isoformat()}


def _lawful_basis(value: str) -> str:
    if value not in ("public_task", "consent"):
        raise ValueError(f"governance.yml: lawful_basis is public_task or consent, not {value!r}")
    return value


def operations(path: Path | None = None) -> dict:
    """config/operations.yml: freshness limits per department, the landing sensor's interval."""
    return load_yaml(path or CONFIG_DIR / "operations.yml")
