$cbs = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'
$wu = Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
# PendingFileRenameOperations is a *value* of the Session Manager key, not a key of its own.
$sm = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -Name 'PendingFileRenameOperations' -ErrorAction SilentlyContinue
$pfro = $false
if ($sm -and $sm.PendingFileRenameOperations) { $pfro = @($sm.PendingFileRenameOperations | Where-Object { $_ }).Count -gt 0 }
ConvertTo-Json -Compress -InputObject @{ CBSRebootPending = $cbs; WURebootRequired = $wu; PendingFileRenameOperations = $pfro }
