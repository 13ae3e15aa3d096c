$ErrorActionPreference = 'Stop'
# What changed on the host, for Patchdesk to tell its own changes from others: the newest Windows
# Update history entries and the installed programs (the Uninstall keys, 64- and 32-bit). Either source
# failing is said, not swallowed: a history that could not be read is unknown, not empty.
$errors = @()
$total = -1
$hist = @()
try {
  $session = New-Object -ComObject Microsoft.Update.Session
  $searcher = $session.CreateUpdateSearcher()
  $total = [int]$searcher.GetTotalHistoryCount()
  if ($total -gt 0) {
    foreach ($e in $searcher.QueryHistory(0, [Math]::Min($total, [int]$P.max))) {
      $hist += [ordered]@{ Operation = [int]$e.Operation; ResultCode = [int]$e.ResultCode; Date = $e.Date.ToUniversalTime().ToString('o'); Title = [string]$e.Title; UpdateID = [string]$e.UpdateIdentity.UpdateID }
    }
  }
} catch { $e = Get-PatchdeskInnermost $_; $errors += ('the Windows Update history: 0x{0:X8} {1}' -f [int]$e.HResult, [string]$e.Message) }
$programs = @()
$programsRead = $true
try {
  foreach ($key in @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*')) {
    foreach ($item in @(Get-ItemProperty -Path $key -ErrorAction SilentlyContinue)) {
      if ($item.DisplayName -and -not $item.SystemComponent -and $programs.Count -lt [int]$P.max) {
        $programs += [ordered]@{ Name = [string]$item.DisplayName; Version = [string]$item.DisplayVersion }
      }
    }
  }
} catch { $programsRead = $false; $e = Get-PatchdeskInnermost $_; $errors += ('the installed programs: 0x{0:X8} {1}' -f [int]$e.HResult, [string]$e.Message) }
ConvertTo-Json -Compress -Depth 4 -InputObject @{ total = $total; history = $hist; programsRead = $programsRead; programs = $programs; errors = $errors }
