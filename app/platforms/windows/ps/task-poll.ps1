$ErrorActionPreference = 'Stop'
$dir = Join-Path $env:ProgramData ('Patchdesk\tasks\' + $P.id)
$file = Join-Path $dir 'status.json'
$status = $null
# Shared for writing and deleting: the wrapper's File.Replace must never fail because we read. The
# swap is not instantaneous, so a failed open is tried again a few times before it counts.
for ($try = 1; (Test-Path -LiteralPath $file) -and $null -eq $status; $try++) {
  try {
    $stream = New-Object System.IO.FileStream $file, ([System.IO.FileMode]::Open), ([System.IO.FileAccess]::Read), ([System.IO.FileShare]'ReadWrite, Delete')
    try { $status = (New-Object System.IO.StreamReader $stream, ([System.Text.Encoding]::UTF8)).ReadToEnd() } finally { $stream.Dispose() }
  } catch {
    if ($try -ge 5) { throw }
    Start-Sleep -Milliseconds 100
  }
}
$state = 'Missing'
$last = $null
$task = Get-ScheduledTask -TaskName ('Patchdesk-' + $P.id) -TaskPath '\Patchdesk\' -ErrorAction SilentlyContinue
if ($task) {
  $state = [string]$task.State
  $info = Get-ScheduledTaskInfo -InputObject $task -ErrorAction SilentlyContinue
  if ($info) { $last = [int64]$info.LastTaskResult }
}
$boot = ${@BOOT@}
ConvertTo-Json -Compress -InputObject @{ status = $status; task = $state; boot = $boot; last = $last }
