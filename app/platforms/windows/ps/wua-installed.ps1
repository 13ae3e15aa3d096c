$ErrorActionPreference = 'Stop'
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
