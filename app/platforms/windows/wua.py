"""The Windows Update adapter ("wua"): the Windows Update Agent's COM API, driven over WinRM.

Scan, install and uninstall run through a one-shot scheduled task as SYSTEM (see
app.platforms.windows.systask): WUA refuses to download or install -- and on recent Windows even to
search -- for a remote logon, and wusa.exe refuses remote sessions. Reading the installed-update
inventory and the reboot flags works remotely, so those are short direct commands.

The scripts print JSON whose field names are those of the documented COM interfaces (IUpdate: Title,
Identity.UpdateID / RevisionNumber, KBArticleIDs, MsrcSeverity, Categories, CveIDs,
SecurityBulletinIDs, InstallationBehavior.RebootBehavior, MaxDownloadSize, IsUninstallable, Type;
IUpdateInstallationResult: ResultCode, HResult, RebootRequired; IUpdateHistoryEntry: Operation,
ResultCode, Date, Title, UpdateIdentity). Parsing is pure and treats every value as untrusted.

Names: a pending update is named by its first KB ("KB5034441"); an update without a KB (most driver
updates) by its UpdateID (a GUID). install/plan/snapshot accept either. Drivers are their own kind
and are installed only when named explicitly (by UpdateID or KB), never by "install everything".

Snapshots map each name to ``"installed"`` or None, so the change record of an install reads
``KB5034441: None -> installed`` and its reverse is an uninstall.
"""

# ruff: noqa: E501 - embedded PowerShell (and SOAP) reads better unwrapped

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.errors import AdapterError
from app.domain.models import InstallPlan, OsFacts, PackageChange, PendingUpdate, UpdateKind
from app.platforms.base import Adapter, LogFn, Snapshot
from app.platforms.windows.scripts import BOOT_TIME, render
from app.platforms.windows.systask import TaskOutcome, run_system_task
from app.transports.base import OutputCallback, Transport

logger = logging.getLogger(__name__)

MANAGER = "wua"
INSTALLED = "installed"

SOFTWARE_CRITERIA = "IsInstalled=0 and Type='Software' and IsHidden=0"
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
MAX_TEXT = 512
MAX_LIST = 64
MAX_WARNINGS = 50

SEVERITIES = ("Critical", "Important", "Moderate", "Low")
SECURITY_CATEGORY = "Security Updates"

_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_KB_RE = re.compile(r"(?:KB)?([0-9]{4,8})\Z", re.I)
_KB_IN_TITLE = re.compile(r"\bKB([0-9]{4,8})\b", re.I)
_CVE_RE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,7}\Z")
_BULLETIN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


# -- value cleaning ---------------------------------------------------------------------------------------


def _text(value: object, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return ""
    text = _CONTROL_RE.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value.strip())
    return default


def _str_list(value: object) -> list[str]:
    """A JSON list of strings; PowerShell 5 turns a one-element array into a scalar, so accept that."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items[:MAX_LIST]:
        text = _text(item)
        if text:
            out.append(text)
    return out


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

    @property
    def is_driver(self) -> bool:
        return self.type == TYPE_DRIVER

    @property
    def name(self) -> str:
        return self.kbs[0] if self.kbs else self.update_id

    @property
    def is_security(self) -> bool:
        return self.severity is not None or SECURITY_CATEGORY in self.categories

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
        elif any(c in ("Feature Packs", "Upgrades") for c in self.categories):
            kind = UpdateKind.ENHANCEMENT
        else:
            kind = UpdateKind.BUGFIX
        return PendingUpdate(
            manager=MANAGER,
            name=self.name,
            available=self.title or self.name,
            installed=None,
            source=", ".join(self.categories) or "Windows Update",
            security=kind == UpdateKind.SECURITY,
            kind=kind,
            severity=self.severity,
            cves=self.cves,
            advisories=tuple(dict.fromkeys((*self.kbs, *self.bulletins))),
            reboot_expected=self.reboot_behavior != REBOOT_NEVER,
        )


def parse_update(obj: object) -> WuaUpdate | None:
    """One IUpdate object from the scan script's JSON; None when it is not one."""
    if not isinstance(obj, dict):
        return None
    update_id = _text(obj.get("UpdateID"), 64)
    if not is_update_id(update_id):
        return None
    kbs = []
    for raw in _str_list(obj.get("KBArticleIDs")):
        kb = normalize_kb(raw)
        if kb and kb not in kbs:
            kbs.append(kb)
    severity = _text(obj.get("MsrcSeverity"), 32)
    severity_norm = next((s for s in SEVERITIES if s.lower() == severity.lower()), None)
    cves = tuple(c.upper() for c in _str_list(obj.get("CveIDs")) if _CVE_RE.fullmatch(c.upper()))
    bulletins = tuple(b for b in _str_list(obj.get("SecurityBulletinIDs")) if _BULLETIN_RE.fullmatch(b))
    utype = _int(obj.get("Type"), TYPE_SOFTWARE)
    return WuaUpdate(
        title=_text(obj.get("Title")),
        update_id=update_id.lower(),
        revision=_int(obj.get("RevisionNumber")),
        kbs=tuple(kbs),
        severity=severity_norm,
        categories=tuple(_str_list(obj.get("Categories"))),
        cves=tuple(dict.fromkeys(cves)),
        bulletins=tuple(dict.fromkeys(bulletins)),
        reboot_behavior=_int(obj.get("RebootBehavior")),
        size=max(0, _int(obj.get("MaxDownloadSize"))),
        uninstallable=obj.get("IsUninstallable") is True,
        type=TYPE_DRIVER if utype == TYPE_DRIVER else TYPE_SOFTWARE,
    )


@dataclass(frozen=True)
class WuaScan:
    updates: tuple[WuaUpdate, ...] = ()
    warnings: tuple[str, ...] = ()


def parse_scan(result: object) -> WuaScan:
    """The scan payload's result ``{"updates": [...], "warnings": [...]}``. Never raises."""
    if not isinstance(result, dict):
        return WuaScan(warnings=("The Windows Update search returned no readable result.",))
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
    warnings = _str_list(result.get("warnings"))[:MAX_WARNINGS]
    if bad:
        warnings.append(f"{bad} update record(s) from Windows Update could not be read.")
    if len(items) > MAX_UPDATES:
        warnings.append(f"Only the first {MAX_UPDATES} of {len(items)} updates were read.")
    return WuaScan(tuple(updates), tuple(warnings))


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
        update_id = _text(item.get("UpdateID"), 64).lower()
        requested = _text(item.get("Requested"), 64)
        if update_id and not is_update_id(update_id):
            bad += 1
            continue
        kbs = tuple(k for k in (normalize_kb(x) for x in _str_list(item.get("KBArticleIDs"))) if k)
        out.append(
            InstallResult(
                update_id=update_id,
                title=_text(item.get("Title")),
                kbs=tuple(dict.fromkeys(kbs)),
                result_code=_int(item.get("ResultCode"), -1),
                hresult=_int(item.get("HResult")),
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
        result_code=_int(result.get("ResultCode")),
        hresult=_int(result.get("HResult")),
        warnings=tuple(warnings),
    )


# -- installed inventory --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """What is installed: KBs (hotfix list and WUA history) and UpdateIDs (history)."""

    kbs: frozenset[str] = frozenset()
    update_ids: frozenset[str] = frozenset()

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
        return Installed()
    kbs: set[str] = set()
    raw_hot = result.get("hotfixes")
    for item in (raw_hot if isinstance(raw_hot, list) else [raw_hot])[: MAX_UPDATES * 2]:
        if isinstance(item, dict):
            kb = normalize_kb(_text(item.get("HotFixID"), 32))
            if kb:
                kbs.add(kb)
    raw_hist = result.get("history")
    entries = []
    for item in (raw_hist if isinstance(raw_hist, list) else [raw_hist])[: MAX_UPDATES * 4]:
        if not isinstance(item, dict) or _int(item.get("ResultCode")) not in RESULT_OK:
            continue
        op = _int(item.get("Operation"))
        if op not in (1, 2):
            continue
        entries.append((_text(item.get("Date"), 40), op, item))
    entries.sort(key=lambda e: e[0])  # ISO 8601 dates sort as text; oldest first
    ids: set[str] = set()
    for _date, op, item in entries:
        uid = _text(item.get("UpdateID"), 64).lower()
        m = _KB_IN_TITLE.search(_text(item.get("Title")))
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
    return Installed(frozenset(kbs), frozenset(ids))


# -- reboot ---------------------------------------------------------------------------------------------


def parse_reboot(text: str) -> tuple[bool, tuple[str, ...]]:
    """The reboot script's JSON -> (pending, reasons)."""
    obj = _json(text)
    if not isinstance(obj, dict):
        return False, ()
    reasons = []
    if obj.get("CBSRebootPending") is True:
        reasons.append("Component Based Servicing")
    if obj.get("WURebootRequired") is True:
        reasons.append("Windows Update")
    if obj.get("PendingFileRenameOperations") is True:
        reasons.append("pending file renames")
    return bool(reasons), tuple(reasons)


# -- rollback -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemovalCheck:
    """Whether one KB can be uninstalled, and how (wusa, or DISM for combined SSU+LCU packages)."""

    kb: str
    installed: bool
    uninstallable: bool | None  # None: WUA does not know the update
    dism_package: str | None

    @property
    def method(self) -> str | None:
        if not self.installed:
            return None
        if self.dism_package and (self.uninstallable is False or "RollupFix" in self.dism_package):
            return "dism"
        if self.uninstallable is False:
            return None
        return "wusa"


_DISM_NAME_RE = re.compile(r"[A-Za-z0-9_~.\-]{1,200}\Z")


def parse_removal_checks(result: object, kbs: Sequence[str]) -> dict[str, RemovalCheck]:
    out = {kb: RemovalCheck(kb, False, None, None) for kb in kbs}
    if not isinstance(result, dict):
        return out
    raw = result.get("checks")
    for item in (raw if isinstance(raw, list) else [raw])[:MAX_UPDATES]:
        if not isinstance(item, dict):
            continue
        kb = normalize_kb(_text(item.get("KB"), 32))
        if kb not in out:
            continue
        unin = item.get("IsUninstallable")
        dism = _text(item.get("DismPackage"), 256)
        out[kb] = RemovalCheck(
            kb=kb,
            installed=item.get("Installed") is True,
            uninstallable=unin if isinstance(unin, bool) else None,
            dism_package=dism if dism and _DISM_NAME_RE.fullmatch(dism) else None,
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
        kb = normalize_kb(_text(item.get("KB"), 32))
        if kb is None:
            continue
        out.append(
            RemovalResult(
                kb=kb,
                method=_text(item.get("Method"), 8) or "wusa",
                exit_code=_int(item.get("ExitCode"), -1),
                reboot_required=item.get("RebootRequired") is True,
                error=_text(item.get("Error")),
            )
        )
    return out


def _json(text: str) -> Any:
    text = text.strip().lstrip("\ufeff")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


# -- facts ----------------------------------------------------------------------------------------------


def parse_windows_facts(text: str) -> tuple[OsFacts, frozenset[str]]:
    """The facts script's JSON -> OsFacts (id "windows") and the managers found ("wua", "choco",
    "winget")."""
    obj = _json(text)
    if not isinstance(obj, dict):
        raise AdapterError("The host did not answer the Windows facts script with JSON.")
    caption = _text(obj.get("Caption"), 128)
    version = _text(obj.get("Version"), 32)
    build = _text(obj.get("Build"), 32)
    uptime = obj.get("UptimeSeconds")
    facts = OsFacts(
        id="windows",
        id_like=(),
        name=caption or "Microsoft Windows",
        version=version,
        version_codename=_text(obj.get("DisplayVersion"), 16),
        pretty_name=caption
        + (f" ({_text(obj.get('DisplayVersion'), 16)})" if obj.get("DisplayVersion") else ""),
        kernel=build or version,
        uptime_seconds=float(uptime)
        if isinstance(uptime, int | float) and not isinstance(uptime, bool)
        else None,
        hostname=_text(obj.get("Hostname"), 64),
    )
    managers = {"wua"}
    if obj.get("Choco") is True:
        managers.add("choco")
    if obj.get("WinGet") is True:
        managers.add("winget")
    return facts, frozenset(managers)


# -- scripts --------------------------------------------------------------------------------------------

#: Turns an IUpdate into the JSON fields parse_update reads.
_CONVERT_UPDATE = r"""function ConvertTo-PatchdeskUpdate($u) {
  [ordered]@{
    Title = [string]$u.Title
    UpdateID = [string]$u.Identity.UpdateID
    RevisionNumber = [int]$u.Identity.RevisionNumber
    KBArticleIDs = @($u.KBArticleIDs | ForEach-Object { [string]$_ })
    MsrcSeverity = [string]$u.MsrcSeverity
    Categories = @($u.Categories | ForEach-Object { [string]$_.Name })
    CveIDs = @($u.CveIDs | ForEach-Object { [string]$_ })
    SecurityBulletinIDs = @($u.SecurityBulletinIDs | ForEach-Object { [string]$_ })
    RebootBehavior = [int]$u.InstallationBehavior.RebootBehavior
    MaxDownloadSize = [int64]$u.MaxDownloadSize
    IsUninstallable = [bool]$u.IsUninstallable
    Type = [int]$u.Type
  }
}
"""

SCAN_BODY = (
    _CONVERT_UPDATE
    + r"""$session = New-Object -ComObject Microsoft.Update.Session
$session.ClientApplicationID = 'Patchdesk'
$searcher = $session.CreateUpdateSearcher()
$updates = @()
$warnings = @()
# Software and drivers separately: drivers are their own kind and never installed unless named.
foreach ($c in @(@{ kind = 'software'; criteria = $P.software }, @{ kind = 'driver'; criteria = $P.driver })) {
  Update-PatchdeskProgress ('searching ' + $c.kind) 20
  try {
    $r = $searcher.Search($c.criteria)
  } catch {
    $warnings += ('The {0} search failed: 0x{1:X8} {2}' -f $c.kind, $_.Exception.HResult, $_.Exception.Message)
    continue
  }
  if ($r.ResultCode -ne 2) { $warnings += ('The {0} search ended with result code {1}' -f $c.kind, $r.ResultCode) }
  foreach ($u in $r.Updates) { $updates += ConvertTo-PatchdeskUpdate $u }
}
@{ updates = $updates; warnings = $warnings }
"""
)

INSTALL_BODY = r"""$session = New-Object -ComObject Microsoft.Update.Session
$session.ClientApplicationID = 'Patchdesk'
$searcher = $session.CreateUpdateSearcher()
$ids = @($P.ids | ForEach-Object { ([guid][string]$_).ToString() })
$kbs = @($P.kbs | ForEach-Object { [string]$_ })
Update-PatchdeskProgress 'searching' 5
$r = $searcher.Search('IsInstalled=0 and IsHidden=0')
$todo = New-Object -ComObject Microsoft.Update.UpdateColl
$seen = @{}
foreach ($u in $r.Updates) {
  $id = ([string]$u.Identity.UpdateID).ToLower()
  $byKb = @($u.KBArticleIDs | Where-Object { $kbs -contains ('KB' + $_) }).Count -gt 0
  if ($P.all) { $pick = ($u.Type -ne 2) }
  else { $pick = ($ids -contains $id) -or ($byKb -and $u.Type -ne 2) }
  if (-not $pick) { continue }
  if (-not $u.EulaAccepted) { $u.AcceptEula() }
  [void]$todo.Add($u)
  $seen[$id] = $true
  foreach ($k in $u.KBArticleIDs) { $seen['KB' + $k] = $true }
}
$results = @()
# Asked for but not pending: installed already (a run resumed after a restart) or not offered here.
foreach ($id in $ids) {
  if ($seen.ContainsKey($id)) { continue }
  $h = $searcher.Search("UpdateID='" + $id + "'")
  if ($h.Updates.Count -gt 0 -and $h.Updates.Item(0).IsInstalled) {
    $u = $h.Updates.Item(0)
    $results += [ordered]@{ Requested = $id; UpdateID = $id; Title = [string]$u.Title; KBArticleIDs = @($u.KBArticleIDs | ForEach-Object { [string]$_ }); ResultCode = 2; HResult = 0; AlreadyInstalled = $true }
  } else { $results += [ordered]@{ Requested = $id; ResultCode = -1; HResult = 0; NotFound = $true } }
}
foreach ($kb in $kbs) {
  if ($seen.ContainsKey($kb)) { continue }
  if (Get-HotFix -Id $kb -ErrorAction SilentlyContinue) {
    $results += [ordered]@{ Requested = $kb; KBArticleIDs = @($kb.Substring(2)); ResultCode = 2; HResult = 0; AlreadyInstalled = $true }
  } else { $results += [ordered]@{ Requested = $kb; ResultCode = -1; HResult = 0; NotFound = $true } }
}
$rebootRequired = $false
$code = 2
$hr = 0
if ($todo.Count -gt 0) {
  Update-PatchdeskProgress 'downloading' 20
  $dl = $session.CreateUpdateDownloader()
  $dl.Updates = $todo
  [void]$dl.Download()
  Update-PatchdeskProgress 'installing' 50
  $inst = $session.CreateUpdateInstaller()
  $inst.Updates = $todo
  $ir = $inst.Install()
  $code = [int]$ir.ResultCode
  $hr = [int]$ir.HResult
  $rebootRequired = [bool]$ir.RebootRequired
  for ($i = 0; $i -lt $todo.Count; $i++) {
    $u = $todo.Item($i)
    $ur = $ir.GetUpdateResult($i)
    $results += [ordered]@{ UpdateID = [string]$u.Identity.UpdateID; Title = [string]$u.Title; KBArticleIDs = @($u.KBArticleIDs | ForEach-Object { [string]$_ }); ResultCode = [int]$ur.ResultCode; HResult = [int]$ur.HResult; RebootRequired = [bool]$ur.RebootRequired }
  }
}
@{ results = $results; RebootRequired = $rebootRequired; ResultCode = $code; HResult = $hr }
"""

INSTALLED_BODY = r"""$ErrorActionPreference = 'Stop'
$hot = @()
try { $hot = @(Get-HotFix | ForEach-Object { [ordered]@{ HotFixID = [string]$_.HotFixID; Description = [string]$_.Description } }) } catch { }
$hist = @()
try {
  $session = New-Object -ComObject Microsoft.Update.Session
  $searcher = $session.CreateUpdateSearcher()
  $n = $searcher.GetTotalHistoryCount()
  if ($n -gt 0) {
    foreach ($e in $searcher.QueryHistory(0, $n)) {
      $hist += [ordered]@{ Operation = [int]$e.Operation; ResultCode = [int]$e.ResultCode; Date = $e.Date.ToUniversalTime().ToString('o'); Title = [string]$e.Title; UpdateID = [string]$e.UpdateIdentity.UpdateID }
    }
  }
} catch { }
ConvertTo-Json -Compress -Depth 4 -InputObject @{ hotfixes = $hot; history = $hist }
"""

REBOOT_BODY = r"""$cbs = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'
$wu = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
# PendingFileRenameOperations is a *value* of the Session Manager key, not a key of its own.
$sm = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -Name 'PendingFileRenameOperations' -ErrorAction SilentlyContinue
$pfro = $false
if ($sm -and $sm.PendingFileRenameOperations) { $pfro = @($sm.PendingFileRenameOperations | Where-Object { $_ }).Count -gt 0 }
ConvertTo-Json -Compress -InputObject @{ CBSRebootPending = $cbs; WURebootRequired = $wu; PendingFileRenameOperations = $pfro }
"""

REMOVAL_CHECK_BODY = r"""$session = New-Object -ComObject Microsoft.Update.Session
$searcher = $session.CreateUpdateSearcher()
Update-PatchdeskProgress 'checking' 10
$r = $searcher.Search("IsInstalled=1 and Type='Software'")
$byKb = @{}
foreach ($u in $r.Updates) { foreach ($k in $u.KBArticleIDs) { $byKb['KB' + $k] = $u } }
$pkgs = @()
try { $pkgs = @(Get-WindowsPackage -Online | Where-Object { $_.PackageState -eq 'Installed' }) } catch { }
$checks = @()
foreach ($kb in @($P.kbs)) {
  $kb = [string]$kb
  $u = $byKb[$kb]
  $hot = [bool](Get-HotFix -Id $kb -ErrorAction SilentlyContinue)
  $dism = $null
  foreach ($p in $pkgs) {
    if ($p.PackageName -like ('*' + $kb + '*')) { $dism = [string]$p.PackageName; break }
    if ($p.PackageName -like 'Package_for_RollupFix*') {
      $info = Get-WindowsPackage -Online -PackageName $p.PackageName -ErrorAction SilentlyContinue
      if ($info -and ([string]$info.Description + ' ' + [string]$info.SupportInformation) -match ($kb.Substring(2))) { $dism = [string]$p.PackageName; break }
    }
  }
  $checks += [ordered]@{ KB = $kb; Installed = ($hot -or $null -ne $u); IsUninstallable = $(if ($u) { [bool]$u.IsUninstallable } else { $null }); DismPackage = $dism }
}
@{ checks = $checks }
"""

UNINSTALL_BODY = r"""$removals = @()
$n = 0
foreach ($item in @($P.items)) {
  $n++
  Update-PatchdeskProgress ('removing ' + [string]$item.kb) ([int](100 * $n / (@($P.items).Count + 1)))
  if ($item.method -eq 'dism') {
    try {
      $res = Remove-WindowsPackage -Online -PackageName ([string]$item.package) -NoRestart
      $removals += [ordered]@{ KB = [string]$item.kb; Method = 'dism'; ExitCode = 0; RebootRequired = [bool]$res.RestartNeeded }
    } catch {
      $removals += [ordered]@{ KB = [string]$item.kb; Method = 'dism'; ExitCode = $_.Exception.HResult; Error = $_.Exception.Message }
      break
    }
  } else {
    $num = ([string]$item.kb).Substring(2)
    $p = Start-Process -FilePath "$env:SystemRoot\System32\wusa.exe" -ArgumentList @('/uninstall', ('/kb:' + $num), '/quiet', '/norestart') -Wait -PassThru
    $removals += [ordered]@{ KB = [string]$item.kb; Method = 'wusa'; ExitCode = [int]$p.ExitCode; RebootRequired = ($p.ExitCode -eq 3010) }
    if (@(0, 3010, 1641, 2359303) -notcontains $p.ExitCode) { break }
  }
}
@{ removals = $removals }
"""

FACTS_BODY = r"""$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cv = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -ErrorAction SilentlyContinue
$build = [string]$os.Version
if ($cv -and $cv.CurrentBuildNumber) { $build = '{0}.{1}' -f $cv.CurrentBuildNumber, $cv.UBR }
ConvertTo-Json -Compress -InputObject @{
  Caption = [string]$os.Caption
  Version = [string]$os.Version
  Build = $build
  DisplayVersion = $(if ($cv) { [string]$cv.DisplayVersion } else { '' })
  Hostname = [string]$env:COMPUTERNAME
  UptimeSeconds = [int]((Get-Date) - $os.LastBootUpTime).TotalSeconds
  LastBoot = @BOOT@
  PSVersion = [string]$PSVersionTable.PSVersion
  Choco = [bool](Get-Command choco.exe -ErrorAction SilentlyContinue)
  WinGet = [bool](Get-Module -ListAvailable -Name Microsoft.WinGet.Client)
}
""".replace("@BOOT@", BOOT_TIME)


def scan_payload() -> str:
    return render("wua-scan", SCAN_BODY, {"software": SOFTWARE_CRITERIA, "driver": DRIVER_CRITERIA})


def install_payload(ids: Sequence[str], kbs: Sequence[str], *, all_software: bool) -> str:
    return render("wua-install", INSTALL_BODY, {"ids": list(ids), "kbs": list(kbs), "all": all_software})


def installed_script() -> str:
    return render("wua-installed", INSTALLED_BODY)


def reboot_script() -> str:
    return render("reboot-pending", REBOOT_BODY)


def removal_check_payload(kbs: Sequence[str]) -> str:
    return render("wua-removal-check", REMOVAL_CHECK_BODY, {"kbs": list(kbs)})


def uninstall_payload(items: Sequence[RemovalCheck]) -> str:
    plan = [{"kb": c.kb, "method": c.method, "package": c.dism_package} for c in items]
    return render("wua-uninstall", UNINSTALL_BODY, {"items": plan})


def facts_script() -> str:
    return render("windows-facts", FACTS_BODY)


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


# -- the adapter ----------------------------------------------------------------------------------------


def _log(log: LogFn | None, level: str, text: str) -> None:
    logger.debug("%s: %s", level, text)
    if log is not None:
        log(level, text)


def gather_windows_facts(transport: Transport) -> tuple[OsFacts, frozenset[str]]:
    """Facts of a Windows host in one WinRM round trip (the POSIX facts snippet cannot run there)."""
    res = transport.run(facts_script(), timeout=60)
    if not res.ok:
        raise AdapterError(f"Could not read the Windows version: {res.err.strip()[:300] or res.exit_status}")
    return parse_windows_facts(res.out)


def is_windows(facts: OsFacts) -> bool:
    return facts.id == "windows"


def detect_windows(facts: OsFacts, managers: frozenset[str], *, host: str | None = None) -> Adapter | None:
    """The system adapter for a Windows host (WUA), or None when the facts are not Windows'.

    Chocolatey and winget, when present in ``managers``, are *additional* adapters: see
    :func:`extra_windows_adapters`.
    """
    if not is_windows(facts):
        return None
    return WindowsUpdateAdapter(host)


def extra_windows_adapters(managers: frozenset[str], *, host: str | None = None) -> list[Adapter]:
    from app.platforms.windows.chocolatey import ChocolateyAdapter
    from app.platforms.windows.winget import WinGetAdapter

    out: list[Adapter] = []
    if "choco" in managers:
        out.append(ChocolateyAdapter(host))
    if "winget" in managers:
        out.append(WinGetAdapter(host))
    return out


class WindowsUpdateAdapter(Adapter):
    """Windows Update through WUA. Keeps the last scan and install for the job tasks to read."""

    name = MANAGER

    def __init__(
        self,
        host: str | None = None,
        *,
        scan_timeout: float = 1800.0,
        poll_interval: float = 5.0,
    ) -> None:
        #: how error sentences name the host
        self.host = host
        self.scan_timeout = scan_timeout
        self.poll_interval = poll_interval
        self.last_scan: WuaScan | None = None
        self.last_install: InstallOutcome | None = None
        self.last_removals: tuple[RemovalResult, ...] = ()

    def _host(self, transport: Transport) -> str:
        named = self.host or getattr(getattr(transport, "host", None), "name", None)
        return named if isinstance(named, str) and named else "the host"

    def probe(self, transport: Transport, facts: OsFacts) -> bool:
        return is_windows(facts)

    def _task(
        self, transport: Transport, payload: str, what: str, timeout: float, log: LogFn | None
    ) -> TaskOutcome:
        outcome = run_system_task(
            transport,
            payload,
            what=what,
            host=self._host(transport),
            timeout=timeout,
            poll_interval=self.poll_interval,
            log=log,
        )
        if not outcome.ok:
            detail = " ".join(outcome.error.split())[:400]
            raise AdapterError(
                f"{what[:1].upper()}{what[1:]} failed on {self._host(transport)} "
                f"({outcome.hresult or 'no HRESULT'}): {detail or 'no error text'}"
            )
        return outcome

    def scan_details(self, transport: Transport, *, log: LogFn | None = None) -> WuaScan:
        outcome = self._task(transport, scan_payload(), "the Windows Update search", self.scan_timeout, log)
        scan = parse_scan(outcome.result)
        for warning in scan.warnings:
            _log(log, "warning", f"Windows Update: {warning}")
        self.last_scan = scan
        return scan

    def scan(
        self, transport: Transport, *, refresh: bool = False, log: LogFn | None = None
    ) -> list[PendingUpdate]:
        """Pending software and driver updates (WUA searches online, so ``refresh`` changes nothing)."""
        return [u.to_pending() for u in self.scan_details(transport, log=log).updates]

    def reboot_required(self, transport: Transport) -> tuple[bool, tuple[str, ...]]:
        res = transport.run(reboot_script(), timeout=60)
        if not res.ok:
            raise AdapterError(
                f"Could not read the reboot flags of {self._host(transport)}: {res.err.strip()[:300]}"
            )
        return parse_reboot(res.out)

    def installed(self, transport: Transport) -> Installed:
        res = transport.run(installed_script(), timeout=300)
        if not res.ok:
            raise AdapterError(
                f"Could not list the installed updates of {self._host(transport)}: {res.err.strip()[:300]}"
            )
        return parse_installed(_json(res.out))

    # -- patching ---------------------------------------------------------------------------------------

    def _selected(
        self, transport: Transport, names: Sequence[str] | None, log: LogFn | None
    ) -> list[WuaUpdate]:
        scan = self.last_scan or self.scan_details(transport, log=log)
        if names is None:
            return [u for u in scan.updates if not u.is_driver]
        return [u for u in scan.updates if any(u.matches(n) for n in names)]

    def plan(
        self, transport: Transport, names: Sequence[str] | None, *, log: LogFn | None = None
    ) -> InstallPlan:
        """What installing ``names`` would do, from the last scan (scanning first if there is none)."""
        if names is not None:
            _ids, _kbs, bad = split_names(names)
            if bad:
                raise AdapterError(
                    f"Not a KB number or update id: {', '.join(repr(b)[:40] for b in bad[:5])}"
                )
        chosen = self._selected(transport, names, log)
        warnings = []
        for u in chosen:
            if u.is_driver:
                warnings.append(
                    f"{u.name} is a driver update ({u.title}); it is installed because it was named."
                )
            if not u.uninstallable:
                warnings.append(f"{u.name} cannot be uninstalled once installed; it cannot be rolled back.")
        if names is not None:
            missing = [n for n in names if not any(u.matches(n) for u in chosen)]
            if missing:
                warnings.append(f"Not pending on this host: {', '.join(missing[:10])}")
        changes = tuple(
            PackageChange(MANAGER, u.name, None, INSTALLED, kb=u.kbs[0] if u.kbs else None) for u in chosen
        )
        return InstallPlan(
            changes,
            reboot_expected=any(u.reboot_behavior != REBOOT_NEVER for u in chosen),
            warnings=tuple(warnings),
        )

    def snapshot(self, transport: Transport, names: Sequence[str]) -> Snapshot:
        have = self.installed(transport)
        return {name: (INSTALLED if have.has(name) else None) for name in names}

    def install(
        self,
        transport: Transport,
        names: Sequence[str] | None,
        *,
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> str | None:
        """Install through the SYSTEM task. Per-update result codes and HRESULTs end up in the log and
        in :attr:`last_install`; any failed update raises AdapterError naming it. Returns the task id
        as the transaction id."""
        host = self._host(transport)
        ids: list[str]
        kbs: list[str]
        if names is None:
            ids, kbs = [], []
            bad: list[str] = []
        else:
            ids, kbs, bad = split_names(names)
            if bad:
                raise AdapterError(
                    f"Not a KB number or update id: {', '.join(repr(b)[:40] for b in bad[:5])}"
                )
            if not ids and not kbs:
                return None
        payload = install_payload(ids, kbs, all_software=names is None)
        outcome = self._task(transport, payload, "the Windows Update installation", timeout, log)
        result = parse_install(outcome.result)
        self.last_install = result
        self.last_scan = None  # stale now
        for warning in result.warnings:
            _log(log, "warning", warning)
        if outcome.restarted:
            _log(
                log,
                "warning",
                f"{host} restarted during the installation; the task resumed after the restart.",
            )
        for r in result.results:
            _log(log, "info" if r.ok else "error", f"Windows Update: {r.describe()}")
        if result.reboot_required:
            _log(log, "warning", f"{host} needs a restart to finish installing the updates.")
        failed = [r for r in result.results if not r.ok and not r.not_found]
        not_found = [r for r in result.results if r.not_found]
        if not_found:
            _log(
                log, "warning", "Not offered on this host: " + ", ".join(r.requested for r in not_found[:20])
            )
        if failed:
            raise AdapterError(
                f"Windows Update could not install {len(failed)} update(s) on {host}: "
                + "; ".join(r.describe() for r in failed[:5])
            )
        if names is not None and not_found and len(not_found) == len(result.results):
            raise AdapterError(f"None of the requested updates is offered to {host}.")
        return None

    def available_versions(self, transport: Transport, names: Sequence[str]) -> Mapping[str, frozenset[str]]:
        """Windows updates have no versions to go back to: rolling back an install is an uninstall,
        which needs nothing to be available. Every name maps to an empty set."""
        return {name: frozenset() for name in names}

    def check_removable(
        self, transport: Transport, kbs: Sequence[str], *, log: LogFn | None = None
    ) -> dict[str, RemovalCheck]:
        outcome = self._task(transport, removal_check_payload(kbs), "the uninstall check", 900, log)
        return parse_removal_checks(outcome.result, kbs)

    def rollback(
        self,
        transport: Transport,
        changes: Sequence[PackageChange],
        *,
        transaction_id: str | None = None,
        log: LogFn | None = None,
        on_output: OutputCallback | None = None,
        timeout: float = 3600,
        lock_wait: float = 120,
    ) -> None:
        """Uninstall the KBs a change record installed (wusa, or DISM for combined SSU+LCU packages).

        Every KB is checked first; if any cannot be uninstalled, nothing is started and the error names
        them all. Updates without a KB cannot be removed by wusa and are refused the same way.
        """
        host = self._host(transport)
        kbs: list[str] = []
        refused: list[str] = []
        for change in changes:
            if change.manager != MANAGER or change.from_version is not None:
                refused.append(f"{change.name} (not an installation Patchdesk can undo)")
                continue
            kb = normalize_kb(change.kb or change.name)
            if kb is None:
                refused.append(f"{change.name} (no KB number, so it cannot be uninstalled)")
            elif kb not in kbs:
                kbs.append(kb)
        if refused:
            raise AdapterError(f"Nothing was changed on {host}; cannot roll back: {'; '.join(refused[:10])}.")
        if not kbs:
            return
        checks = self.check_removable(transport, kbs, log=log)
        blocked = [c.kb for c in checks.values() if c.installed and c.method is None]
        if blocked:
            raise AdapterError(
                f"Nothing was changed on {host}: Windows marks {', '.join(blocked)} as permanent "
                "(it cannot be uninstalled), so the rollback was not started."
            )
        todo = [c for c in checks.values() if c.installed]
        for c in checks.values():
            if not c.installed:
                _log(log, "info", f"{c.kb} is not installed on {host}; nothing to remove.")
        if not todo:
            return
        outcome = self._task(transport, uninstall_payload(todo), "the uninstall", timeout, log)
        removals = parse_removals(outcome.result)
        self.last_removals = tuple(removals)
        for r in removals:
            extra = f" ({r.error})" if r.error else ""
            _log(log, "info" if r.ok else "error", f"{r.kb}: {r.method} exit code {r.exit_code}{extra}")
        done = {r.kb for r in removals if r.ok}
        failed = [r for r in removals if not r.ok]
        if failed or len(done) < len(todo):
            left = [c.kb for c in todo if c.kb not in done]
            raise AdapterError(
                f"The rollback on {host} stopped: removed {', '.join(sorted(done)) or 'nothing'}; still "
                f"installed: {', '.join(left)}"
                + (f" ({failed[0].method} exit code {failed[0].exit_code})" if failed else "")
                + "."
            )
        if any(r.reboot_required for r in removals):
            _log(log, "warning", f"{host} needs a restart to finish removing the updates.")


__all__ = [
    "InstallOutcome",
    "InstallResult",
    "Installed",
    "RemovalCheck",
    "WindowsUpdateAdapter",
    "WuaScan",
    "WuaUpdate",
    "detect_windows",
    "extra_windows_adapters",
    "gather_windows_facts",
    "parse_install",
    "parse_installed",
    "parse_reboot",
    "parse_removal_checks",
    "parse_removals",
    "parse_scan",
    "parse_update",
    "parse_windows_facts",
]
