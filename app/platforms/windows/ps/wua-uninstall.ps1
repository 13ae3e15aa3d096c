$removals = @()
$n = 0
foreach ($item in @($P.items)) {
  $n++
  Update-PatchdeskProgress ('removing ' + [string]$item.kb) ([int](100 * $n / (@($P.items).Count + 1)))
  if ($item.method -eq 'dism') {
    try {
      $res = Remove-WindowsPackage -Online -PackageName ([string]$item.package) -NoRestart
      $removals += [ordered]@{ KB = [string]$item.kb; Method = 'dism'; ExitCode = 0; RebootRequired = [bool]$res.RestartNeeded }
    } catch {
      $removals += [ordered]@{ KB = [string]$item.kb; Method = 'dism'; ExitCode = $_.Exception.HResult; Error = $_.Exception.Message }
      break
    }
  } else {
    $num = ([string]$item.kb).Substring(2)
    $proc = Start-Process -FilePath "$env:SystemRoot\System32\wusa.exe" -ArgumentList @('/uninstall', ('/kb:' + $num), '/quiet', '/norestart') -Wait -PassThru
    $removals += [ordered]@{ KB = [string]$item.kb; Method = 'wusa'; ExitCode = [int]$proc.ExitCode; RebootRequired = ($proc.ExitCode -eq 3010) }
    if (@(0, 3010, 1641, 2359303) -notcontains $proc.ExitCode) { break }
  }
}
@{ removals = $removals }
