$ErrorActionPreference = 'Stop'
$dir = Join-Path $env:ProgramData ('Patchdesk\tasks\' + $P.id)
$file = Join-Path $dir 'status.json'
$status = $null
if (Test-Path -LiteralPath $file) { $status = [System.IO.File]::ReadAllText($file) }
$state = 'Missing'
$task = Get-ScheduledTask -TaskName ('Patchdesk-' + $P.id) -TaskPath '\Patchdesk\' -ErrorAction SilentlyContinue
if ($task) { $state = [string]$task.State }
$boot = ${@BOOT@}
ConvertTo-Json -Compress -InputObject @{ status = $status; task = $state; boot = $boot }
