$results = @()
foreach ($id in @($P.ids)) {
  Update-PatchdeskProgress ('updating ' + [string]$id) 50
  try {
    $r = Update-WinGetPackage -Id ([string]$id) -Mode Silent -MatchOption Equals
    $results += [ordered]@{ Id = [string]$id; Status = [string]$r.Status; RebootRequired = [bool]$r.RebootRequired; InstallerErrorCode = [int]$r.InstallerErrorCode }
  } catch { $results += [ordered]@{ Id = [string]$id; Status = 'Error'; Error = $_.Exception.Message } }
}
@{ results = $results }
