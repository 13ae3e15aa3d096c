# The sources choco will ask, then what it found. A source that does not answer costs only a warning
# line, and with --ignore-unfound its packages simply drop out of the list: Patchdesk must see both.
# cleared before each run: when choco.exe is missing nothing sets it, and no stale code may pass
$global:LASTEXITCODE = $null
$sources = @(& $choco source list -r --no-color 2>&1 | ForEach-Object { [string]$_ })
$sourcesExit = $global:LASTEXITCODE
$out = New-Object System.Collections.Generic.List[string]
$err = New-Object System.Collections.Generic.List[string]
$global:LASTEXITCODE = $null
& $choco outdated -r --no-color --ignore-unfound 2>&1 | ForEach-Object {
  if ($_ -is [System.Management.Automation.ErrorRecord]) { $err.Add([string]$_) } else { $out.Add([string]$_) }
}
$code = $global:LASTEXITCODE
ConvertTo-Json -Compress -Depth 3 -InputObject @{ sources = $sources; sourcesExit = $sourcesExit; out = @($out); err = @($err); exit = $code }
exit 0
