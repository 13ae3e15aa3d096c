$ErrorActionPreference = 'Stop'
$dir = Join-Path $env:ProgramData ('Patchdesk\tasks\' + $P.id)
$file = Join-Path $dir 'status.json'
$status = $null
if (Test-Path -LiteralPath $file) {
  # Shared for writing and deleting: the wrapper's File.Replace must never fail because we read.
  $stream = New-Object System.IO.FileStream $file, ([System.IO.FileMode]::Open), ([System.IO.FileAccess]::Read), ([System.IO.FileShare]'ReadWrite, Delete')
  try { $status = (New-Object System.IO.StreamReader $stream, ([System.Text.Encoding]::UTF8)).ReadToEnd() } finally { $stream.Dispose() }
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
