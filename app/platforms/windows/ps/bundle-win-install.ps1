# Each KB from the file the applied bundles carry for it (the bundle applied last first): an .msu by
# wusa.exe, a .cab by DISM, quietly and without restarting. Exit codes are reported as they are; the
# console decides what each means.
$root = Join-Path (Join-Path $env:ProgramData 'Patchdesk') 'bundles'
$results = @()
$reboot = $false
foreach ($kb in @($P.kbs)) {
  $digits = ([string]$kb).Substring(2)
  $file = $null
  foreach ($id in @($P.bundles)) {
    $dir = Join-Path $root ([string]$id)
    if (-not (Test-Path -LiteralPath $dir -PathType Container)) { continue }
    $found = @(Get-ChildItem -LiteralPath $dir -File -Force | Where-Object { $_.Name -ne 'wsusscn2.cab' -and $_.Name -match ('(?i)(^|[^0-9a-z])kb' + $digits + '([^0-9]|$)') -and $_.Extension -match '^(?i)\.(msu|cab)$' })
    if ($found.Count -gt 0) { $file = $found[0]; break }
  }
  if ($null -eq $file) {
    $results += [ordered]@{ KB = [string]$kb; File = ''; Method = ''; ExitCode = -1; Missing = $true }
    continue
  }
  Update-PatchdeskProgress ('installing ' + $kb) 50
  if ($file.Extension -ieq '.msu') {
    $method = 'wusa'
    $run = Start-Process -FilePath (Join-Path $env:SystemRoot 'System32\wusa.exe') -ArgumentList @(('"' + $file.FullName + '"'), '/quiet', '/norestart') -Wait -PassThru -WindowStyle Hidden
  } else {
    $method = 'dism'
    $run = Start-Process -FilePath (Join-Path $env:SystemRoot 'System32\dism.exe') -ArgumentList @('/Online', '/Add-Package', ('/PackagePath:"' + $file.FullName + '"'), '/Quiet', '/NoRestart') -Wait -PassThru -WindowStyle Hidden
  }
  $code = [int]$run.ExitCode
  if ($code -eq 3010) { $reboot = $true }
  $results += [ordered]@{ KB = [string]$kb; File = $file.Name; Method = $method; ExitCode = $code; Missing = $false }
}
@{ results = $results; RebootRequired = $reboot }
