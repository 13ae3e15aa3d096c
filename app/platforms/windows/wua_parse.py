"""What the Windows Update scripts print, read into values: updates, install results, the installed
inventory, reboot flags and uninstall checks.

The field names are those of the documented COM interfaces (IUpdate: Title, Identity.UpdateID /
RevisionNumber, KBArticleIDs, MsrcSeverity, Categories, CveIDs, SecurityBulletinIDs,
InstallationBehavior.RebootBehavior, MaxDownloadSize, IsUninstallable, Type; IUpdateInstallationResult:
ResultCode, HResult, RebootRequired; IUpdateHistoryEntry: Operation, ResultCode, Date, Title,
UpdateIdentity). Parsing is pure and treats every value as untrusted.

Names: a pending update is named by its first KB ("KB5034441"); an update without a KB (most driver
updates) by its UpdateID (a GUID). Drivers are their own kind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.errors import AdapterError
from app.domain.models import PendingUpdate, UpdateKind
from app.platforms.base import MAX_WARNINGS
from app.platforms.windows.output import int_value, json_value, str_list, text_value

MANAGER = "wua"
INSTALLED = "installed"

#: BrowseOnly=0 leaves out the optional ones (previews, "optional quality updates") that Windows
#: Update itself only offers to whoever asks; listing them would make every host look unpatched.
SOFTWARE_CRITERIA = "IsInstalled=0 and Type='Software' and IsHidden=0 and BrowseOnly=0"
DRIVER_CRITERIA = "IsInstalled=0 and Type='Driver' and IsHidden=0"

#: IUpdate.Type
TYPE_SOFTWARE = 1
TYPE_DRIVER = 2
#: InstallationBehavior.RebootBehavior: 0 never, 1 always, 2 can request
REBOOT_NEVER = 0
#: OperationResultCode
RESULT_NAMES = {
    0: "not started",
    1: "in progress",
    2: "succeeded",
    3: "succeeded with errors",
    4: "failed",
    5: "aborted",
}
RESULT_OK = frozenset({2, 3})

#: Caps against a hostile or broken host.
MAX_UPDATES = 5000

SEVERITIES = ("Critical", "Important", "Moderate", "Low")

#: Update classifications by their category GUID (ICategory.CategoryID, the ids WSUS lists with
#: Get-WsusClassification). Names are localized ("Sicherheitsupdates"), GUIDs are not; names are
#: matched only when a host sent no GUIDs at all.
SECURITY_UPDATES = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
FEATURE_PACKS = "b54e7d24-7add-428f-8b75-90a396fa584f"
UPGRADES = "3689bdc8-b205-4af4-8d4a-a63924c5e9d5"
SECURITY_CATEGORY = "Security Updates"
ENHANCEMENT_CATEGORIES = ("Feature Packs", "Upgrades")
ENHANCEMENT_IDS = frozenset({FEATURE_PACKS, UPGRADES})

#: HRESULTs a failed search commonly ends with, in words (the rest are shown as the number only).
HRESULT_WORDS = {
    0x8024402C: "the update server's name could not be resolved (proxy or WSUS address)",
    0x80072EE7: "the update server's name could not be resolved",
    0x80072EFD: "the update server could not be reached",
    0x80072EE2: "the connection to the update server timed out",
    0x8024002E: "Windows Update is disabled on the host",
}

_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_KB_RE = re.compile(r"(?:KB)?([0-9]{4,8})\Z", re.I)
_KB_IN_TITLE = re.compile(r"\bKB([0-9]{4,8})\b", re.I)
_CVE_RE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,7}\Z")
_BULLETIN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}\Z")


def normalize_kb(value: str) -> str | None:
    """ "KB5034441", "kb5034441" or "5034441" -> "KB5034441"; None for anything else."""
    m = _KB_RE.fullmatch(value.strip())
    return f"KB{m.group(1)}" if m else None


def is_update_id(value: str) -> bool:
    return bool(_GUID_RE.fullmatch(value))


def hresult_hex(value: int) -> str:
    return f"0x{value & 0xFFFFFFFF:08X}"


# -- scan -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WuaUpdate:
    """One update as WUA describes it (fields of IUpdate)."""

    title: str
    update_id: str
    revision: int
    kbs: tuple[str, ...]  # normalised "KB…"
    severity: str | None
    categories: tuple[str, ...]
    cves: tuple[str, ...]
    bulletins: tuple[str, ...]
    reboot_behavior: int
    size: int
    uninstallable: bool
    type: int
    category_ids: tuple[str, ...] = ()
    browse_only: bool = False
    #: the device a driver applies to (IWindowsDriverUpdate DriverManufacturer, DriverModel, DriverClass)
    device: str = ""

    @property
    def is_driver(self) -> bool:
        return self.type == TYPE_DRIVER

    @property
    def name(self) -> str:
        return self.kbs[0] if self.kbs else self.update_id

    @property
    def is_security(self) -> bool:
        if self.severity is not None:
            return True
        if self.category_ids:
            return SECURITY_UPDATES in self.category_ids
        return SECURITY_CATEGORY in self.categories

    @property
    def is_enhancement(self) -> bool:
        if self.category_ids:
            return bool(ENHANCEMENT_IDS & set(self.category_ids))
        return any(c in ENHANCEMENT_CATEGORIES for c in self.categories)

    def matches(self, name: str) -> bool:
        kb = normalize_kb(name)
        if kb is not None:
            return kb in self.kbs
        return name.lower() == self.update_id.lower()

    def to_pending(self) -> PendingUpdate:
        if self.is_driver:
            kind = UpdateKind.DRIVER
        elif self.is_security:
            kind = UpdateKind.SECURITY
        elif self.is_enhancement:
            kind = UpdateKind.ENHANCEMENT
        else:
            kind = UpdateKind.BUGFIX
        return PendingUpdate(
            manager=MANAGER,
            name=self.name,
            available=self.title or self.name,
            installed=None,
            source=(f"device: {self.device}" if self.is_driver and self.device else "")
            or ", ".join(self.categories)
            or "Windows Update",
            security=kind == UpdateKind.SECURITY,
            kind=kind,
            severity=self.severity,
            cves=self.cves,
            advisories=tuple(dict.fromkeys((*self.kbs, *self.bulletins))),
            reboot_expected=self.reboot_behavior != REBOOT_NEVER,
        )


def _driver_device(obj: dict[str, object]) -> str:
    """ "Intel Corporation Intel(R) Ethernet Connection I219-LM (Net)" from a driver's fields."""
    maker, model = text_value(obj.get("DriverManufacturer"), 80), text_value(obj.get("DriverModel"), 120)
    cls = text_value(obj.get("DriverClass"), 40)
    name = (
        model
        if maker and model.lower().startswith(maker.lower())
        else " ".join(p for p in (maker, model) if p)
    )
    return name + (f" ({cls})" if name and cls else "")


def parse_update(obj: object) -> WuaUpdate | None:
    """One IUpdate object from the scan script's JSON; None when it is not one."""
    if not isinstance(obj, dict):
        return None
    update_id = text_value(obj.get("UpdateID"), 64)
    if not is_update_id(update_id):
        return None
    kbs = []
    for raw in str_list(obj.get("KBArticleIDs")):
        kb = normalize_kb(raw)
        if kb and kb not in kbs:
            kbs.append(kb)
    severity = text_value(obj.get("MsrcSeverity"), 32)
    severity_norm = next((s for s in SEVERITIES if s.lower() == severity.lower()), None)
    cves = tuple(c.upper() for c in str_list(obj.get("CveIDs")) if _CVE_RE.fullmatch(c.upper()))
    bulletins = tuple(b for b in str_list(obj.get("SecurityBulletinIDs")) if _BULLETIN_RE.fullmatch(b))
    utype = int_value(obj.get("Type"), TYPE_SOFTWARE)
    category_ids = tuple(c.lower() for c in str_list(obj.get("CategoryIDs")) if _GUID_RE.fullmatch(c))
    return WuaUpdate(
        title=text_value(obj.get("Title")),
        update_id=update_id.lower(),
        revision=int_value(obj.get("RevisionNumber")),
        kbs=tuple(kbs),
        severity=severity_norm,
        categories=tuple(str_list(obj.get("Categories"))),
        cves=tuple(dict.fromkeys(cves)),
        bulletins=tuple(dict.fromkeys(bulletins)),
        reboot_behavior=int_value(obj.get("RebootBehavior")),
        size=max(0, int_value(obj.get("MaxDownloadSize"))),
        uninstallable=obj.get("IsUninstallable") is True,
        type=TYPE_DRIVER if utype == TYPE_DRIVER else TYPE_SOFTWARE,
        category_ids=tuple(dict.fromkeys(category_ids)),
        device=_driver_device(obj),
        browse_only=obj.get("BrowseOnly") is True,
    )


@dataclass(frozen=True)
class SearchOutcome:
    """How one IUpdateSearcher.Search call ended: its ResultCode (-1 when it threw) and the innermost
    HRESULT and message of the exception, plus ISearchResult.Warnings."""

    kind: str
    result_code: int
    hresult: int = 0
    error: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result_code in RESULT_OK

    def describe(self) -> str:
        """The failure in a sentence's words: what ended how, with the HRESULT where there is one."""
        if self.result_code == -1:
            what = "failed"
        else:
            what = (
                f"ended with result code {self.result_code} ({RESULT_NAMES.get(self.result_code, 'unknown')})"
            )
        if self.hresult:
            words = HRESULT_WORDS.get(self.hresult & 0xFFFFFFFF)
            what += f", HRESULT {hresult_hex(self.hresult)}" + (f": {words}" if words else "")
        if self.error:
            what += f" ({self.error})"
        return what


@dataclass(frozen=True)
class WuaScan:
    """What the scan payload said. ``failure``: why it cannot count as a scan at all (the software
    search failed, or the result says nothing readable); ``notes``: what makes it incomplete."""

    updates: tuple[WuaUpdate, ...] = ()
    warnings: tuple[str, ...] = ()
    failure: str | None = None
    notes: tuple[str, ...] = ()
    searches: tuple[SearchOutcome, ...] = ()
    #: IUpdateSearcher.Online: the searcher asked the update service rather than its cache
    online: bool = False
    #: when the software search succeeded, by the host's clock (UTC)
    searched: datetime | None = None
    #: IAutomaticUpdatesResults.LastSearchSuccessDate (UTC): Automatic Updates' own last search
    last_search_success: datetime | None = None


def _utc(value: object) -> datetime | None:
    text = text_value(value, 40)
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _searches(raw: object) -> list[SearchOutcome]:
    out = []
    for item in (raw if isinstance(raw, list) else [raw])[:8]:
        if not isinstance(item, dict):
            continue
        kind = text_value(item.get("Kind"), 16)
        if kind not in ("software", "driver"):
            continue
        out.append(
            SearchOutcome(
                kind=kind,
                result_code=int_value(item.get("ResultCode"), -1),
                hresult=int_value(item.get("HResult")),
                error=text_value(item.get("Error"), 300),
                warnings=tuple(str_list(item.get("Warnings"))[:10]),
            )
        )
    return out


def _search_verdict(searches: list[SearchOutcome]) -> tuple[str | None, list[str]]:
    """(failure, notes) from how the searches ended: a software search that did not succeed fails the
    scan; "succeeded with errors" and a failed driver search leave it incomplete."""
    software = next((s for s in searches if s.kind == "software"), None)
    if software is None:
        return "The Windows Update search did not report how it ended.", []
    if not software.ok:
        return f"The Windows Update search {software.describe()}.", []
    notes = []
    if software.result_code == 3:
        detail = f" ({'; '.join(software.warnings[:3])})" if software.warnings else ""
        notes.append(f"The Windows Update search succeeded with errors{detail}: some updates may be missing.")
    driver = next((s for s in searches if s.kind == "driver"), None)
    if driver is None or not driver.ok:
        how = driver.describe() if driver is not None else "did not report how it ended"
        notes.append(f"The Windows Update driver search {how}; driver updates may be missing.")
    elif driver.result_code == 3:
        notes.append("The Windows Update driver search succeeded with errors; driver updates may be missing.")
    return None, notes


def parse_scan(result: object) -> WuaScan:
    """The scan payload's result ``{"updates", "warnings", "searches", "online", "searched",
    "lastSearchSuccess"}``. Never raises: what cannot be read becomes ``failure`` or ``notes``."""
    if not isinstance(result, dict):
        return WuaScan(failure="The Windows Update search returned no readable result.")
    raw = result.get("updates")
    items = raw if isinstance(raw, list) else ([raw] if isinstance(raw, dict) else [])
    updates: list[WuaUpdate] = []
    seen: set[str] = set()
    bad = 0
    for item in items[:MAX_UPDATES]:
        update = parse_update(item)
        if update is None:
            bad += 1
        elif update.update_id not in seen:
            seen.add(update.update_id)
            updates.append(update)
    warnings = str_list(result.get("warnings"))[:MAX_WARNINGS]
    searches = _searches(result.get("searches"))
    failure, notes = _search_verdict(searches)
    if bad:
        notes.append(f"{bad} update record(s) from Windows Update could not be read.")
    if len(items) > MAX_UPDATES:
        notes.append(f"Only the first {MAX_UPDATES} of {len(items)} updates were read.")
    return WuaScan(
        tuple(updates),
        tuple(warnings),
        failure,
        tuple(notes),
        tuple(searches),
        online=result.get("online") is True,
        searched=_utc(result.get("searched")),
        last_search_success=_utc(result.get("lastSearchSuccess")),
    )


# -- install --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallResult:
    """One update's IUpdateInstallationResult, or why it was not installed."""

    update_id: str
    title: str
    kbs: tuple[str, ...]
    result_code: int  # OperationResultCode; -1 when the update was not found
    hresult: int
    reboot_required: bool = False
    already_installed: bool = False
    not_found: bool = False
    requested: str = ""

    @property
    def ok(self) -> bool:
        return self.result_code in RESULT_OK

    @property
    def name(self) -> str:
        return self.kbs[0] if self.kbs else (self.update_id or self.requested)

    def describe(self) -> str:
        if self.not_found:
            return f"{self.requested or self.name}: not offered by Windows Update on this host"
        if self.already_installed:
            return f"{self.name}: already installed"
        what = RESULT_NAMES.get(self.result_code, f"result {self.result_code}")
        hr = f" (HRESULT {hresult_hex(self.hresult)})" if self.hresult else ""
        return f"{self.name}: {what}{hr}"


@dataclass(frozen=True)
class InstallOutcome:
    results: tuple[InstallResult, ...] = ()
    reboot_required: bool = False
    result_code: int = 0
    hresult: int = 0
    warnings: tuple[str, ...] = ()
    #: the search before the install never succeeded (after ``search_attempts`` tries): nothing ran
    search_failed: bool = False
    search_attempts: int = 0
    search_error: str = ""


def parse_install(result: object) -> InstallOutcome:
    """The install payload's result. Never raises; unreadable entries become warnings."""
    if not isinstance(result, dict):
        return InstallOutcome(warnings=("The Windows Update installation returned no readable result.",))
    raw = result.get("results")
    items = raw if isinstance(raw, list) else ([raw] if isinstance(raw, dict) else [])
    out: list[InstallResult] = []
    bad = 0
    for item in items[:MAX_UPDATES]:
        if not isinstance(item, dict):
            bad += 1
            continue
        update_id = text_value(item.get("UpdateID"), 64).lower()
        requested = text_value(item.get("Requested"), 64)
        if update_id and not is_update_id(update_id):
            bad += 1
            continue
        kbs = tuple(k for k in (normalize_kb(x) for x in str_list(item.get("KBArticleIDs"))) if k)
        out.append(
            InstallResult(
                update_id=update_id,
                title=text_value(item.get("Title")),
                kbs=tuple(dict.fromkeys(kbs)),
                result_code=int_value(item.get("ResultCode"), -1),
                hresult=int_value(item.get("HResult")),
                reboot_required=item.get("RebootRequired") is True,
                already_installed=item.get("AlreadyInstalled") is True,
                not_found=item.get("NotFound") is True,
                requested=requested,
            )
        )
    warnings = [f"{bad} installation result(s) could not be read."] if bad else []
    return InstallOutcome(
        results=tuple(out),
        reboot_required=result.get("RebootRequired") is True,
        result_code=int_value(result.get("ResultCode")),
        hresult=int_value(result.get("HResult")),
        warnings=tuple(warnings),
        search_failed=result.get("SearchFailed") is True,
        search_attempts=int_value(result.get("SearchAttempts")),
        search_error=text_value(result.get("SearchError"), 300),
    )


# -- installed inventory --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """What is installed: KBs (hotfix list and WUA history) and UpdateIDs (history)."""

    kbs: frozenset[str] = frozenset()
    update_ids: frozenset[str] = frozenset()
    #: what could not be read (the hotfix list, the WUA history): the inventory is not to be trusted
    errors: tuple[str, ...] = ()

    def has(self, name: str) -> bool:
        kb = normalize_kb(name)
        if kb is not None:
            return kb in self.kbs
        return name.lower() in self.update_ids


def parse_installed(result: object) -> Installed:
    """``{"hotfixes": [{"HotFixID"}], "history": [{"Operation", "ResultCode", "Date", "Title",
    "UpdateID"}]}``. Get-HotFix (Win32_QuickFixEngineering) misses updates installed by other means,
    so the WUA history counts too: per update, its latest successful operation decides (1 install,
    2 uninstall)."""
    if not isinstance(result, dict):
        return Installed(errors=("the inventory script printed nothing readable",))
    kbs: set[str] = set()
    raw_hot = result.get("hotfixes")
    for item in (raw_hot if isinstance(raw_hot, list) else [raw_hot])[: MAX_UPDATES * 2]:
        if isinstance(item, dict):
            kb = normalize_kb(text_value(item.get("HotFixID"), 32))
            if kb:
                kbs.add(kb)
    raw_hist = result.get("history")
    entries = []
    for item in (raw_hist if isinstance(raw_hist, list) else [raw_hist])[: MAX_UPDATES * 4]:
        if not isinstance(item, dict) or int_value(item.get("ResultCode")) not in RESULT_OK:
            continue
        op = int_value(item.get("Operation"))
        if op not in (1, 2):
            continue
        entries.append((text_value(item.get("Date"), 40), op, item))
    entries.sort(key=lambda e: e[0])  # ISO 8601 dates sort as text; oldest first
    ids: set[str] = set()
    for _date, op, item in entries:
        uid = text_value(item.get("UpdateID"), 64).lower()
        m = _KB_IN_TITLE.search(text_value(item.get("Title")))
        kb = f"KB{m.group(1)}" if m else None
        if op == 1:
            if is_update_id(uid):
                ids.add(uid)
            if kb:
                kbs.add(kb)
        else:
            ids.discard(uid)
            if kb:
                kbs.discard(kb)
    return Installed(frozenset(kbs), frozenset(ids), tuple(str_list(result.get("errors"))[:5]))


# -- reboot ---------------------------------------------------------------------------------------------


#: reboot-pending sources and how each reads as a reason; any one of them means Windows waits for a restart
_REBOOT_REASONS = (
    ("CBSRebootPending", "Component Based Servicing"),
    ("WURebootRequired", "Windows Update"),
    ("SystemInfoRebootRequired", "Windows Update Agent"),
    ("ConfigMgrRebootPending", "Configuration Manager client"),
    ("UpdateExeVolatile", "update installer (UpdateExeVolatile)"),
    ("PendingComputerRename", "pending computer rename"),
    ("PendingDomainJoin", "pending domain join"),
)
#: renames queued for the next boot: installers and antivirus leave these about all the time, so alone
#: they are a hint, not a reason to restart under "if needed"; beside a reason they are named too
_REBOOT_HINTS = (
    ("PendingFileRenameOperations", "pending file renames"),
    ("PendingFileRenameOperations2", "pending file renames"),
)


def parse_reboot(text: str) -> tuple[bool, tuple[str, ...]]:
    """The reboot script's JSON -> (pending, reasons). A check that could not see is an error: an
    unreadable answer, or a source that failed while no other says "pending", is never "no reboot"."""
    obj = json_value(text)
    if not isinstance(obj, dict) or not all(
        isinstance(obj.get(key), bool) for key in ("CBSRebootPending", "WURebootRequired")
    ):
        raise AdapterError("The reboot flags could not be read: the answer was not the reboot check's JSON.")
    reasons = [reason for key, reason in _REBOOT_REASONS if obj.get(key) is True]
    if not reasons:
        errors = str_list(obj.get("Errors"))
        if errors:
            raise AdapterError("The reboot flags could not be read completely: " + "; ".join(errors[:3]))
        return False, ()
    hints = dict.fromkeys(hint for key, hint in _REBOOT_HINTS if obj.get(key) is True)
    return True, (*reasons, *hints)


# -- rollback -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemovalCheck:
    """Whether one KB can be uninstalled, and how: DISM for a removable CBS package (preferred over
    wusa /uninstall /quiet, and the only way for the LCU part of a combined SSU+LCU), wusa for an
    uninstallable update without one. Everything else is refused before anything starts."""

    kb: str
    installed: bool
    uninstallable: bool | None  # None: WUA does not know the update
    dism_package: str | None
    #: the CBS package's manifest says permanence="permanent" (servicing stacks); None: unknown
    dism_permanent: bool | None = None

    @property
    def method(self) -> str | None:
        if not self.installed:
            return None
        if self.dism_package:
            # a permanent package fails with 0x800F0825 once earlier KBs are already gone: only a
            # package known to be removable goes to DISM, whatever WUA's IsUninstallable says
            return "dism" if self.dism_permanent is False else None
        if self.uninstallable is False:
            return None
        return "wusa"

    @property
    def blocked_reason(self) -> str:
        """Why an installed update cannot be removed; "" when it can (or is not installed)."""
        if not self.installed or self.method is not None:
            return ""
        if self.dism_package and self.dism_permanent:
            return f"Windows marks {self.kb} as permanent (its package {self.dism_package} cannot be removed)"
        if self.dism_package:
            return f"Patchdesk could not tell whether {self.kb}'s package {self.dism_package} is permanent"
        return f"Windows marks {self.kb} as permanent (it cannot be uninstalled)"


_DISM_NAME_RE = re.compile(r"[A-Za-z0-9_~.\-]{1,200}\Z")


def parse_removal_checks(result: object, kbs: Sequence[str]) -> dict[str, RemovalCheck]:
    out = {kb: RemovalCheck(kb, False, None, None) for kb in kbs}
    if not isinstance(result, dict):
        return out
    raw = result.get("checks")
    for item in (raw if isinstance(raw, list) else [raw])[:MAX_UPDATES]:
        if not isinstance(item, dict):
            continue
        kb = normalize_kb(text_value(item.get("KB"), 32))
        if kb not in out:
            continue
        unin = item.get("IsUninstallable")
        dism = text_value(item.get("DismPackage"), 256)
        permanent = item.get("DismPermanent")
        out[kb] = RemovalCheck(
            kb=kb,
            installed=item.get("Installed") is True,
            uninstallable=unin if isinstance(unin, bool) else None,
            dism_package=dism if dism and _DISM_NAME_RE.fullmatch(dism) else None,
            dism_permanent=permanent if isinstance(permanent, bool) else None,
        )
    return out


@dataclass(frozen=True)
class RemovalResult:
    kb: str
    method: str
    exit_code: int
    reboot_required: bool
    error: str = ""

    @property
    def ok(self) -> bool:
        # wusa: 0 done, 3010 done but reboot needed, 2359303 (0x00240007) already not installed
        return self.exit_code in (0, 3010, 1641, 2359303) and not self.error


def parse_removals(result: object) -> list[RemovalResult]:
    if not isinstance(result, dict):
        return []
    raw = result.get("removals")
    out = []
    for item in (raw if isinstance(raw, list) else [raw])[:MAX_UPDATES]:
        if not isinstance(item, dict):
            continue
        kb = normalize_kb(text_value(item.get("KB"), 32))
        if kb is None:
            continue
        out.append(
            RemovalResult(
                kb=kb,
                method=text_value(item.get("Method"), 8) or "wusa",
                exit_code=int_value(item.get("ExitCode"), -1),
                reboot_required=item.get("RebootRequired") is True,
                error=text_value(item.get("Error")),
            )
        )
    return out


def split_names(names: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """(UpdateIDs, KBs, rejected) from user/host-supplied names."""
    ids: list[str] = []
    kbs: list[str] = []
    bad: list[str] = []
    for name in names:
        kb = normalize_kb(name)
        if kb is not None:
            kbs.append(kb)
        elif is_update_id(name.strip()):
            ids.append(name.strip().lower())
        else:
            bad.append(name)
    return list(dict.fromkeys(ids)), list(dict.fromkeys(kbs)), bad
