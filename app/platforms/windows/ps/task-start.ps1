$ErrorActionPreference = 'Stop'
# Where the task lives: %ProgramData%\Patchdesk\tasks\<id>. Ordinary users may create folders in
# ProgramData (and in %SystemRoot%\Temp), so no level is trusted for existing: one that is a junction
# or symbolic link, or is owned by anyone but SYSTEM, Administrators or us, is refused (a user who
# planted it would own what SYSTEM runs and what the console reads), and the whole tree then gets
# SYSTEM and Administrators only, recursively. SYSTEM's own profile (System32\config\systemprofile)
# would need fewer checks, but 32-bit callers are redirected away from it and nobody looks there.
$PatchdeskAdmins = @('S-1-5-18', 'S-1-5-32-544')
$PatchdeskOwners = $PatchdeskAdmins + @([System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value)
$PatchdeskAdminSid = New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-544'
function Assert-PatchdeskSafe([string]$path) {
  $item = Get-Item -LiteralPath $path -Force
  if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) {
    throw ($path + ' is a junction or symbolic link; Patchdesk will not run a SYSTEM task through it. An administrator should delete it.')
  }
  $owner = (Get-Acl -LiteralPath $path).GetOwner([System.Security.Principal.SecurityIdentifier])
  if ($PatchdeskOwners -notcontains $owner.Value) {
    $name = $owner.Value
    try { $name = $owner.Translate([System.Security.Principal.NTAccount]).Value } catch { }
    throw ($path + ' is owned by ' + $name + ', not by SYSTEM or Administrators; Patchdesk will not run a SYSTEM task from it. An administrator should delete it.')
  }
}
function Assert-PatchdeskAcl([string]$path) {
  foreach ($rule in (Get-Acl -LiteralPath $path).GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
    if ($rule.AccessControlType -eq 'Allow' -and $PatchdeskAdmins -notcontains $rule.IdentityReference.Value) {
      throw ($path + ' still grants ' + $rule.IdentityReference.Value + ' access after its ACL was reset; Patchdesk will not run a SYSTEM task from it.')
    }
  }
}
function Protect-PatchdeskRoot([string]$path) {
  $acl = New-Object System.Security.AccessControl.DirectorySecurity
  $acl.SetAccessRuleProtection($true, $false)
  foreach ($sid in $PatchdeskAdmins) {
    $who = New-Object System.Security.Principal.SecurityIdentifier $sid
    $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule $who, 'FullControl', 'ContainerInherit,ObjectInherit', 'None', 'Allow'))
  }
  $acl.SetOwner($PatchdeskAdminSid)
  Set-Acl -LiteralPath $path -AclObject $acl
}
# Below the root an entry keeps only what it inherits (explicit rules a user may have added go) and is
# owned by Administrators -- not by whichever administrator account created it, so that a run by
# another account accepts it.
function Reset-PatchdeskEntry($item) {
  if ($item.PSIsContainer) { $acl = New-Object System.Security.AccessControl.DirectorySecurity } else { $acl = New-Object System.Security.AccessControl.FileSecurity }
  $acl.SetAccessRuleProtection($false, $false)
  $acl.SetOwner($PatchdeskAdminSid)
  Set-Acl -LiteralPath $item.FullName -AclObject $acl
}
# Every entry below the root is checked first; a junction is never followed.
function Reset-PatchdeskTree([string]$path) {
  foreach ($child in @(Get-ChildItem -LiteralPath $path -Force)) {
    Assert-PatchdeskSafe $child.FullName
    Reset-PatchdeskEntry $child
    if ($child.PSIsContainer) { Reset-PatchdeskTree $child.FullName }
  }
}
$root = Join-Path $env:ProgramData 'Patchdesk'
$tasks = Join-Path $root 'tasks'
$dir = Join-Path $tasks $P.id
$name = 'Patchdesk-' + $P.id
try {
  # New-Item without -Force fails if someone created the folder after Test-Path: no race to win.
  if (-not (Test-Path -LiteralPath $root)) { New-Item -ItemType Directory -Path $root | Out-Null }
  Assert-PatchdeskSafe $root
  Protect-PatchdeskRoot $root
  Reset-PatchdeskTree $root
  Assert-PatchdeskAcl $root
  if (-not (Test-Path -LiteralPath $tasks)) { New-Item -ItemType Directory -Path $tasks | Out-Null }
  # Folders of tasks abandoned a day ago or more (their task expired and was deleted) go.
  foreach ($old in @(Get-ChildItem -LiteralPath $tasks -Force)) {
    if ($old.LastWriteTimeUtc -lt (Get-Date).ToUniversalTime().AddDays(-1) -and -not (Get-ScheduledTask -TaskName ('Patchdesk-' + $old.Name) -TaskPath '\Patchdesk\' -ErrorAction SilentlyContinue)) {
      Remove-Item -LiteralPath $old.FullName -Recurse -Force
    }
  }
  if (Test-Path -LiteralPath $dir) { Remove-Item -LiteralPath $dir -Recurse -Force }
  New-Item -ItemType Directory -Path $dir | Out-Null
  foreach ($level in @($tasks, $dir)) { Assert-PatchdeskSafe $level; Assert-PatchdeskAcl $level }
  $script = Join-Path $dir 'run.ps1'
  [System.IO.File]::WriteAllBytes($script, [System.Convert]::FromBase64String($P.script))
  foreach ($mine in @($tasks, $dir, $script)) { Reset-PatchdeskEntry (Get-Item -LiteralPath $mine -Force) }
} catch {
  ConvertTo-Json -Compress -InputObject @{ started = $false; error = $_.Exception.Message }
  exit 1
}
# The action is an encoded bootstrap that reads run.ps1 and runs its text as a script block: execution
# policy governs script files, so Group Policy's AllSigned would refuse '-File run.ps1' (whatever
# -ExecutionPolicy says) but not this, which is also how the WinRM transport runs every script.
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument ('-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ' + $P.bootstrap)
$principal = New-ScheduledTaskPrincipal -UserId 'NT AUTHORITY\SYSTEM' -LogonType ServiceAccount -RunLevel Highest
$settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -StartWhenAvailable -RunOnlyIfNetworkAvailable -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Seconds ([int]$P.limit)) -DeleteExpiredTaskAfter (New-TimeSpan -Days 1)
# At startup too: a payload killed by a restart runs again (and finds its work done, or finishes it),
# after a delay and with a network, and never after the end boundary (the wrapper also expires).
$trigger = New-ScheduledTaskTrigger -AtStartup
$trigger.Delay = 'PT2M'
$trigger.EndBoundary = (Get-Date).AddSeconds([int]$P.limit).ToString('s')
Register-ScheduledTask -TaskName $name -TaskPath '\Patchdesk\' -Action $action -Principal $principal -Settings $settings -Trigger $trigger -Force | Out-Null
Start-ScheduledTask -TaskName $name -TaskPath '\Patchdesk\'
$boot = ${@BOOT@}
ConvertTo-Json -Compress -InputObject @{ started = $true; boot = $boot; name = $name; policy = [string](Get-ExecutionPolicy) }
