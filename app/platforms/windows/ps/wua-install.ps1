$session = New-Object -ComObject Microsoft.Update.Session
$session.ClientApplicationID = 'Patchdesk'
$searcher = $session.CreateUpdateSearcher()
$ids = @($P.ids | ForEach-Object { ([guid][string]$_).ToString() })
$kbs = @($P.kbs | ForEach-Object { [string]$_ })
# A search can fail for a moment (the update server busy, the network not up yet after a restart):
# retry a few times with a pause before giving up, and then report the innermost HRESULT, not a
# bare "failed".
$r = $null
$attempts = [int]$P.searchAttempts
$searchErr = $null
for ($try = 1; $try -le $attempts; $try++) {
  Update-PatchdeskProgress 'searching' 5
  try {
    $r = $searcher.Search('IsInstalled=0 and IsHidden=0')
    if (@(2, 3) -contains [int]$r.ResultCode) { $searchErr = $null; break }
    $searchErr = @{ HResult = 0; Error = ('the search ended with result code ' + [int]$r.ResultCode) }
  } catch {
    $e = Get-PatchdeskInnermost $_
    $searchErr = @{ HResult = [int]$e.HResult; Error = [string]$e.Message }
  }
  $r = $null
  if ($try -lt $attempts) {
    Update-PatchdeskProgress ('search failed, retrying ({0} of {1})' -f $try, $attempts) 5
    Start-Sleep -Seconds ([int]$P.searchPause * $try)
  }
}
if ($null -eq $r) {
  return @{ results = @(); RebootRequired = $false; ResultCode = 4; HResult = $searchErr.HResult; SearchFailed = $true; SearchAttempts = $attempts; SearchError = $searchErr.Error }
}
$todo = New-Object -ComObject Microsoft.Update.UpdateColl
$seen = @{}
foreach ($u in $r.Updates) {
  $id = ([string]$u.Identity.UpdateID).ToLower()
  $byKb = @($u.KBArticleIDs | Where-Object { $kbs -contains ('KB' + $_) }).Count -gt 0
  # "all" is the software the scan lists: no drivers, no optional (BrowseOnly) previews
  if ($P.all) { $pick = ($u.Type -ne 2) -and (-not $u.BrowseOnly) }
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
  try {
    $h = $searcher.Search("UpdateID='" + $id + "'")
  } catch {
    $e = Get-PatchdeskInnermost $_
    $results += [ordered]@{ Requested = $id; ResultCode = 4; HResult = [int]$e.HResult }
    continue
  }
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
