"""Classification rules: the defaults, vendor severity scales, KEV and the reason shown."""

from __future__ import annotations

import pytest

from app.domain.advisories import Advisory, AffectedPackage, KevEntry
from app.domain.classify import bound, classify_all
from app.domain.matching import AdvisoryIndex, platform_for
from app.domain.models import Classification, PendingUpdate, UpdateKind
from app.domain.rules import DEFAULT_RULES, Classifier, Rule
from app.domain.severity import Severity, normalize


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Critical", Severity.CRITICAL),  # MSRC, Red Hat
        ("Important", Severity.HIGH),
        ("Moderate", Severity.MEDIUM),
        ("Low", Severity.LOW),
        ("critical", Severity.CRITICAL),  # SUSE
        ("moderate", Severity.MEDIUM),
        ("high", Severity.HIGH),  # Ubuntu / Debian
        ("medium", Severity.MEDIUM),
        ("negligible", Severity.NONE),
        ("unimportant", Severity.NONE),  # Debian tracker
        ("emergency", Severity.CRITICAL),  # Debian changelog urgency
        ("MODERATE", Severity.MEDIUM),  # GHSA
        ("9.8", Severity.CRITICAL),  # a CVSS base score
        ("7.0", Severity.HIGH),
        ("0.0", Severity.NONE),
        ("", Severity.UNKNOWN),
        (None, Severity.UNKNOWN),
        ("Not yet assigned", Severity.UNKNOWN),
        ("bogus", Severity.UNKNOWN),
    ],
)
def test_severity_scales(word: str | None, expected: Severity) -> None:
    assert normalize(word) == expected


def upd(**kw: object) -> PendingUpdate:
    base: dict[str, object] = {
        "manager": "apt",
        "name": "pd-secfix",
        "available": "1.0-2",
        "installed": "1.0-1",
    }
    base.update(kw)
    return PendingUpdate(**base)  # type: ignore[arg-type]


KEV = KevEntry("CVE-2099-0001", due_date="2026-12-15")
DSA = Advisory(
    "DSA-9901-1",
    aliases=("CVE-2099-0001", "CVE-2099-0002"),
    affected=(AffectedPackage("Debian:12", "pd-secfix", ("1.0-2",)),),
)
DEBIAN12 = platform_for("debian", "12")


def test_default_rules_without_advisories() -> None:
    c = Classifier()
    sec = c.classify(
        upd(security=True, kind=UpdateKind.SECURITY, source="Debian-Security:12/stable-security")
    )
    assert sec.classification == Classification.IMPORTANT
    assert (
        sec.reason == "important: security update, severity not graded (Debian-Security:12/stable-security)"
    )
    plain = c.classify(upd(name="pd-regular", available="2.1-1", installed="2.0-1"))
    assert (plain.classification, plain.reason) == (
        Classification.NONCRITICAL,
        "noncritical: not a security update",
    )


@pytest.mark.parametrize(
    ("manager", "severity", "expected", "reason"),
    [
        (
            "wua",
            "Critical",
            Classification.URGENT,
            "urgent: security update, vendor severity Critical (MSRC)",
        ),
        (
            "wua",
            "Important",
            Classification.IMPORTANT,
            "important: security update, vendor severity Important (MSRC)",
        ),
        (
            "dnf",
            "Moderate",
            Classification.NONCRITICAL,
            "noncritical: security update, vendor severity Moderate (vendor)",
        ),
        (
            "zypper",
            "critical",
            Classification.URGENT,
            "urgent: security update, vendor severity critical (SUSE)",
        ),
        (
            "zypper",
            "low",
            Classification.NONCRITICAL,
            "noncritical: security update, vendor severity low (SUSE)",
        ),
    ],
)
def test_vendor_severity(manager: str, severity: str, expected: Classification, reason: str) -> None:
    got = Classifier().classify(
        upd(manager=manager, security=True, kind=UpdateKind.SECURITY, severity=severity)
    )
    assert (got.classification, got.reason) == (expected, reason)


def test_kev_by_a_cve_the_host_reported() -> None:
    c = Classifier(index=AdvisoryIndex.build([], [KEV]))
    got = c.classify(
        upd(manager="dnf", security=True, kind=UpdateKind.SECURITY, severity="Low", cves=("CVE-2099-0001",))
    )
    assert got.classification == Classification.URGENT
    assert got.reason == "urgent: CVE-2099-0001 is in CISA KEV (due 2026-12-15)"


def test_apt_update_linked_through_osv_then_kev() -> None:
    c = Classifier(index=AdvisoryIndex.build([DSA], [KEV]))
    got = c.classify(upd(security=True, kind=UpdateKind.SECURITY), DEBIAN12)
    assert got.classification == Classification.URGENT
    assert got.cves == ("CVE-2099-0001", "CVE-2099-0002") and got.advisories == ("DSA-9901-1",)
    assert "CVE-2099-0001 is in CISA KEV" in got.reason
    # without KEV the advisory still makes it a (linked) security update
    plain = Classifier(index=AdvisoryIndex.build([DSA], [])).classify(upd(), DEBIAN12)
    assert plain.security and plain.classification == Classification.IMPORTANT
    assert plain.reason.endswith("fixes DSA-9901-1")


@pytest.mark.parametrize(
    ("installed", "available", "os", "linked"),
    [
        ("1.0-1", "1.0-2", ("debian", "12"), True),
        ("1.0-1", "1.0-3", ("debian", "12"), True),  # the candidate is newer than the fix
        ("1.0-1", "1.0-1+b1", ("debian", "12"), False),  # the candidate does not reach the fix
        ("1.0-2", "1.0-3", ("debian", "12"), False),  # already fixed
        ("1.0-1", "1.0-2", ("debian", "11"), False),  # another release's advisory
        ("1.0-1", "1.0-2", ("ubuntu", "22.04"), False),
        ("1.0-1", "1.0-2", (None, None), False),
    ],
)
def test_osv_matching_by_ecosystem_and_version(
    installed: str, available: str, os: tuple[str | None, str | None], linked: bool
) -> None:
    c = Classifier(index=AdvisoryIndex.build([DSA], []))
    got = c.classify(upd(installed=installed, available=available), platform_for(*os))
    assert (got.advisories == ("DSA-9901-1",)) is linked


def test_rpm_ecosystems_compare_with_rpm_order() -> None:
    alma = Advisory(
        "ALSA-2024:1249",
        severity="Important",
        aliases=("CVE-2023-6597",),
        affected=(AffectedPackage("AlmaLinux:9", "python3", ("3.9.18-3.el9_3.1",)),),
    )
    c = Classifier(index=AdvisoryIndex.build([alma], []))
    u = upd(manager="dnf", name="python3", installed="3.9.18-1.el9_3", available="3.9.18-3.el9_3.1")
    got = c.classify(u, platform_for("almalinux", "9.3"))
    assert got.classification == Classification.IMPORTANT
    assert (
        got.reason
        == "important: security update, vendor severity Important (ALSA-2024:1249); fixes ALSA-2024:1249"
    )


def test_custom_rules_are_data() -> None:
    firmware_urgent = Rule("firmware", Classification.URGENT, kinds=frozenset({UpdateKind.FIRMWARE}))
    c = Classifier(rules=(firmware_urgent, *DEFAULT_RULES))
    got = c.classify(upd(manager="fwupd", name="UEFI dbx", kind=UpdateKind.FIRMWARE))
    assert (
        got.classification == Classification.URGENT
        and got.reason == "urgent: firmware update (rule 'firmware')"
    )
    disabled = Classifier(
        rules=tuple(Rule.from_json({**r.as_json(), "enabled": False}) for r in DEFAULT_RULES)
    )
    assert disabled.classify(upd(manager="wua", severity="Critical", security=True)).classification == (
        Classification.NONCRITICAL
    )
    assert Rule.from_json(DEFAULT_RULES[2].as_json()) == DEFAULT_RULES[2]


def test_bound_classifier_reaches_plain_classify_all_in_tasks() -> None:
    """The rescan inside a patch job calls classify_all(); the runner's classifier must apply there."""

    class Ctx:
        class host:
            os_id, os_version = "debian", "12"

    c = Classifier(index=AdvisoryIndex.build([DSA], [KEV]))
    seen = bound(lambda ctx: classify_all([upd()]), c)(Ctx())
    assert seen[0].classification == Classification.URGENT
    assert classify_all([upd()])[0].classification == Classification.NONCRITICAL  # outside: defaults
