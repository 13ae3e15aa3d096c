$results = @()
foreach ($id in @($P.ids)) {
  Update-PatchdeskProgress ('updating ' + [string]$id) 50
  try {
    $r = Update-WinGetPackage -Id ([string]$id) -Mode Silent -MatchOption Equals
    $results += [ordered]@{ Id = [string]$id; Status = [string]$r.Status; RebootRequired = [bool]$r.RebootRequired; InstallerErrorCode = [int]$r.InstallerErrorCode }
  } catch {
    $e = Get-PatchdeskInnermost $_
    $results += [ordered]@{ Id = [string]$id; Status = 'Error'; Error = [string]$e.Message; HResult = [int]$e.HResult }
  }
}
@{ results = $results }
