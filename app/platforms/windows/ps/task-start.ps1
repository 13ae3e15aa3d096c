$ErrorActionPreference = 'Stop'
$root = Join-Path $env:ProgramData 'Patchdesk'
if (-not (Test-Path -LiteralPath $root)) { New-Item -ItemType Directory -Path $root | Out-Null }
# SYSTEM and Administrators only: ordinary users may create folders in ProgramData, and SYSTEM runs
# what is in here.
$acl = New-Object System.Security.AccessControl.DirectorySecurity
$acl.SetAccessRuleProtection($true, $false)
foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
  $who = New-Object System.Security.Principal.SecurityIdentifier $sid
  $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule $who, 'FullControl', 'ContainerInherit,ObjectInherit', 'None', 'Allow'))
}
$acl.SetOwner((New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'))
Set-Acl -LiteralPath $root -AclObject $acl
$dir = Join-Path $root ('tasks\' + $P.id)
if (Test-Path -LiteralPath $dir) { Remove-Item -LiteralPath $dir -Recurse -Force }
New-Item -ItemType Directory -Path $dir | Out-Null
$script = Join-Path $dir 'run.ps1'
[System.IO.File]::WriteAllBytes($script, [System.Convert]::FromBase64String($P.script))
$name = 'Patchdesk-' + $P.id
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "' + $script + '"')
$principal = New-ScheduledTaskPrincipal -UserId 'NT AUTHORITY\SYSTEM' -LogonType ServiceAccount -RunLevel Highest
$settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -StartWhenAvailable -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Seconds ([int]$P.limit))
# At startup too: a payload killed by a restart runs again (and finds its work done, or finishes it).
$trigger = New-ScheduledTaskTrigger -AtStartup
Register-ScheduledTask -TaskName $name -TaskPath '\Patchdesk\' -Action $action -Principal $principal -Settings $settings -Trigger $trigger -Force | Out-Null
Start-ScheduledTask -TaskName $name -TaskPath '\Patchdesk\'
$boot = ${@BOOT@}
ConvertTo-Json -Compress -InputObject @{ started = $true; boot = $boot; name = $name }
