# How old each source's index is: Get-WinGetSource does not say, "winget source list -n <name>" does
# (its Updated line, the host's local time as YYYY-MM-DD HH:MM:SS.mmm in every display language).
# An indexed source older than the console's limit is refreshed first ("winget source update")
# unless the scan was told not to refresh (--no-refresh).
$exe = $null
$cmd = Get-Command winget.exe -ErrorAction SilentlyContinue
if ($cmd) { $exe = $cmd.Source }
else {
  # SYSTEM has no App Execution Alias: the binary in the App Installer package
  $exe = @(Get-ChildItem -Path "$env:ProgramFiles\WindowsApps\Microsoft.DesktopAppInstaller_*_x64__8wekyb3d8bbwe\winget.exe" -ErrorAction SilentlyContinue | Sort-Object -Property FullName | ForEach-Object { $_.FullName }) | Select-Object -Last 1
}
function Get-PatchdeskSourceUpdated([string]$name) {
  if (-not $exe) { return $null }
  foreach ($line in @(& $exe source list -n $name 2>$null)) {
    if ([string]$line -match '(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})') {
      $local = New-Object DateTime -ArgumentList ([int]$Matches[1]), ([int]$Matches[2]), ([int]$Matches[3]), ([int]$Matches[4]), ([int]$Matches[5]), ([int]$Matches[6]), ([DateTimeKind]::Local)
      return $local.ToUniversalTime()
    }
  }
  $null
}
$sources = @()
foreach ($s in @(Get-WinGetSource)) {
  $name = [string]$s.Name
  $entry = [ordered]@{ Name = $name; Type = [string]$s.Type; Updated = $null; Refreshed = $false; RefreshExit = $null }
  $updated = Get-PatchdeskSourceUpdated $name
  $old = ($null -eq $updated) -or (((Get-Date).ToUniversalTime() - $updated).TotalHours -gt [double]$P.maxAgeHours)
  if ($old -and $P.refresh -and $exe -and $entry.Type -like '*PreIndexed*') {
    Update-PatchdeskProgress ('refreshing ' + $name) 10
    $global:LASTEXITCODE = $null
    & $exe source update -n $name 2>&1 | Out-Null
    $entry.Refreshed = $true
    $entry.RefreshExit = $global:LASTEXITCODE
    $updated = Get-PatchdeskSourceUpdated $name
  }
  if ($updated) { $entry.Updated = $updated.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'") }
  $sources += $entry
}
$pkgs = @(Get-WinGetPackage | Where-Object { $_.IsUpdateAvailable } | ForEach-Object {
  [ordered]@{ Id = [string]$_.Id; Name = [string]$_.Name; InstalledVersion = [string]$_.InstalledVersion; AvailableVersion = [string](@($_.AvailableVersions)[0]); Source = [string]$_.Source }
})
@{ packages = $pkgs; sources = $sources; exe = [bool]$exe; now = (Get-Date).ToUniversalTime().ToString('o') }
