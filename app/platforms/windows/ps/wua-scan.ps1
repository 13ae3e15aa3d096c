$session = New-Object -ComObject Microsoft.Update.Session
$session.ClientApplicationID = 'Patchdesk'
$searcher = $session.CreateUpdateSearcher()
$offline = Connect-PatchdeskOfflineCatalogue $searcher $P.offline
$updates = @()
$warnings = @()
$searches = @()
$searched = $null
# Software and drivers separately: drivers are their own kind and never installed unless named.
# How each search ended is reported, not swallowed: a failed software search must fail the scan.
foreach ($c in @(@{ kind = 'software'; criteria = $P.software }, @{ kind = 'driver'; criteria = $P.driver })) {
  Update-PatchdeskProgress ('searching ' + $c.kind) 20
  $s = [ordered]@{ Kind = $c.kind; ResultCode = -1; HResult = 0; Error = ''; Warnings = @() }
  try {
    $r = $searcher.Search($c.criteria)
    $s.ResultCode = [int]$r.ResultCode
    foreach ($w in $r.Warnings) { $s.Warnings += ('0x{0:X8} {1}' -f [int]$w.HResult, [string]$w.Message) }
    foreach ($u in $r.Updates) { $updates += ConvertTo-PatchdeskUpdate $u }
    if ($c.kind -eq 'software' -and @(2, 3) -contains $s.ResultCode) { $searched = (Get-Date).ToUniversalTime().ToString('o') }
  } catch {
    $e = Get-PatchdeskInnermost $_
    $s.HResult = [int]$e.HResult
    $s.Error = [string]$e.Message
  }
  $searches += $s
}
$warnings += @(Disconnect-PatchdeskOfflineCatalogue $offline)
# The evidence of how current the answer is: whether the searcher went online, to which server, and
# when Automatic Updates last searched successfully (UTC; only its own searches move that date).
$last = $null
try {
  $d = (New-Object -ComObject Microsoft.Update.AutoUpdate).Results.LastSearchSuccessDate
  if ($d) { $last = ([datetime]$d).ToString('yyyy-MM-ddTHH:mm:ss') + 'Z' }
} catch { $warnings += 'The time of the last automatic search could not be read.' }
@{ updates = $updates; warnings = $warnings; searches = $searches; online = [bool]$searcher.Online; serverSelection = [int]$searcher.ServerSelection; searched = $searched; lastSearchSuccess = $last; offline = [bool]$offline }
