$ErrorActionPreference = 'Stop'
$hot = @()
$errors = @()
# Either source failing is said, not swallowed: a snapshot that could not look must not read "not
# installed".
try { $hot = @(Get-HotFix | ForEach-Object { [ordered]@{ HotFixID = [string]$_.HotFixID; Description = [string]$_.Description } }) }
catch { $e = Get-PatchdeskInnermost $_; $errors += ('the hotfix list (Get-HotFix): 0x{0:X8} {1}' -f [int]$e.HResult, [string]$e.Message) }
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
} catch { $e = Get-PatchdeskInnermost $_; $errors += ('the Windows Update history: 0x{0:X8} {1}' -f [int]$e.HResult, [string]$e.Message) }
ConvertTo-Json -Compress -Depth 4 -InputObject @{ hotfixes = $hot; history = $hist; errors = $errors }
