"""app/jobs/soak.py's pure edges and the soak alerts (the checks themselves run on real test hosts:
tests/integration/test_soak_monitoring.py)."""

from __future__ import annotations

from dataclasses import replace

from app.domain.criticality import DEFAULT_RULES, effective_host
from app.domain.models import AutoRollback, Criticality, Host, StepState
from app.domain.rollout import SoakVerdict
from app.domain.verdicts import Verdict, Verification
from app.jobs.engine import HostOutcome
from app.jobs.soak import _verdict, rolls_back_on_red
from app.services.alerts import AlertKind, soak_alerts

HOST = Host("web1", "web1.soak.invalid", id=1)


def test_a_check_that_could_not_see_is_unknown_never_healthy() -> None:
    green = Verification(Verdict.GREEN, ("all 1 changed package(s) at the intended version",))
    assert _verdict(HostOutcome(HOST, StepState.SUCCEEDED, None, green)) == (SoakVerdict.GREEN, green.reasons)
    assert _verdict(HostOutcome(HOST, StepState.UNREACHABLE, "web1 refused the connection.")) == (
        SoakVerdict.UNKNOWN,
        ("could not check: web1 refused the connection.",),
    )
    # succeeded without a verification (cannot happen today): not taken as healthy either
    assert _verdict(HostOutcome(HOST, StepState.SUCCEEDED, None, None))[0] == SoakVerdict.UNKNOWN
    assert _verdict(None)[0] == SoakVerdict.UNKNOWN


def test_soak_alerts_for_red_and_blind_checks_only() -> None:
    entries = [
        {
            "update": "apt:a=1",
            "host": "web1",
            "verdict": "red",
            "reasons": ["service nginx is failed"],
            "job": 7,
        },
        {
            "update": "apt:a=1",
            "host": "web2",
            "verdict": "unknown",
            "reasons": ["could not check: x"],
            "job": 7,
        },
        {"update": "apt:a=1", "host": "web3", "verdict": "green", "reasons": [], "job": 7},
        {"update": "apt:a=1", "host": "web4", "verdict": None, "reasons": [], "job": None},  # planned
    ]
    red, blind = soak_alerts(entries)
    assert red.kind == AlertKind.SOAK_RED and red.hosts == ("web1",) and red.job_id == 7
    assert red.title == "Patchdesk: soak check red on 1 host(s)"
    assert "web1 turned red while soaking (apt:a=1): service nginx is failed" in red.message
    assert "promotion to the next ring is held" in red.message
    assert blind.hosts == ("web2",) and "could not be checked" in blind.message
    assert soak_alerts(entries[2:]) == []


def test_rollback_on_red_follows_the_hosts_effective_policy() -> None:
    assert not rolls_back_on_red(HOST)  # nothing set, a standard host: never rolled back by a soak check
    assert rolls_back_on_red(replace(HOST, auto_rollback=AutoRollback.ON_RED))
    assert not rolls_back_on_red(replace(HOST, auto_rollback=AutoRollback.OFF))
    # a mission-critical host that sets nothing rolls back on red by its criticality rule
    mc = Host("db1", "db1.soak.invalid", id=2, criticality=Criticality.MISSION_CRITICAL)
    assert rolls_back_on_red(effective_host(mc, None, DEFAULT_RULES[Criticality.MISSION_CRITICAL]))
