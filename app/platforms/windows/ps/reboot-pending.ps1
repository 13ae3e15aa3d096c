$ErrorActionPreference = 'Stop'
# Each source answers true or false; null where it does not exist on this host (no ConfigMgr client).
# A source that exists but could not be read goes to Errors: "could not read" is never "no reboot".
$readErrors = @()
$cbs = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'
$wu = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
$sysInfo = $null
try { $sysInfo = [bool](New-Object -ComObject Microsoft.Update.SystemInfo).RebootRequired } catch { $readErrors += ('Microsoft.Update.SystemInfo: ' + $_.Exception.Message) }
$ccm = $null
$ccmClass = $null
try { $ccmClass = Get-CimClass -Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_ClientUtilities' -ErrorAction Stop } catch { $ccmClass = $null }
if ($ccmClass) {
  try {
    $ccmAnswer = Invoke-CimMethod -Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_ClientUtilities' -MethodName 'DetermineIfRebootPending' -ErrorAction Stop
    $ccm = [bool]($ccmAnswer.RebootPending -or $ccmAnswer.IsHardRebootPending)
  } catch { $readErrors += ('ConfigMgr DetermineIfRebootPending: ' + $_.Exception.Message) }
}
# UpdateExeVolatile: a value of HKLM\SOFTWARE\Microsoft\Updates on some systems, a key with Flags on others
$volatile = $false
$updates = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Updates' -ErrorAction SilentlyContinue
if ($updates -and $updates.UpdateExeVolatile) { $volatile = [int64]$updates.UpdateExeVolatile -ne 0 }
$volatileKey = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Updates\UpdateExeVolatile' -ErrorAction SilentlyContinue
if ($volatileKey -and $volatileKey.Flags) { $volatile = $volatile -or ([int64]$volatileKey.Flags -ne 0) }
# PendingFileRenameOperations(2) are *values* of the Session Manager key, not keys of their own.
$sm = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -ErrorAction SilentlyContinue
$pfro = $false
$pfro2 = $false
if ($sm) {
  $pfro = @($sm.PendingFileRenameOperations | Where-Object { $_ }).Count -gt 0
  $pfro2 = @($sm.PendingFileRenameOperations2 | Where-Object { $_ }).Count -gt 0
}
$nameActive = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName\ActiveComputerName' -ErrorAction SilentlyContinue
$nameNext = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName' -ErrorAction SilentlyContinue
$rename = [bool]($nameActive -and $nameNext -and ([string]$nameActive.ComputerName -ne [string]$nameNext.ComputerName))
$join = (Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\Netlogon\JoinDomain') -or (Test-Path -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\Netlogon\AvoidSpnSet')
ConvertTo-Json -Compress -InputObject @{
  CBSRebootPending = $cbs
  WURebootRequired = $wu
  SystemInfoRebootRequired = $sysInfo
  ConfigMgrRebootPending = $ccm
  UpdateExeVolatile = $volatile
  PendingFileRenameOperations = $pfro
  PendingFileRenameOperations2 = $pfro2
  PendingComputerRename = $rename
  PendingDomainJoin = $join
  Errors = @($readErrors)
}
