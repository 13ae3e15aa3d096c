$session = New-Object -ComObject Microsoft.Update.Session
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
