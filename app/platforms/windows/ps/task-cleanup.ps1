$dir = Join-Path $env:ProgramData ('Patchdesk\tasks\' + $P.id)
Unregister-ScheduledTask -TaskName ('Patchdesk-' + $P.id) -TaskPath '\Patchdesk\' -Confirm:$false -ErrorAction SilentlyContinue
Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
exit 0
