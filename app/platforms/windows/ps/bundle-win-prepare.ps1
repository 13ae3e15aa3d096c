$ErrorActionPreference = 'Stop'
# The bundle's folder: %ProgramData%\Patchdesk\bundles\<id>. Users may create folders in ProgramData,
# so a level that exists already must be no junction and be owned by SYSTEM or Administrators (or
# us); the bundle's own folder then gets SYSTEM and Administrators only, since SYSTEM installs from it.
$owners = @('S-1-5-18', 'S-1-5-32-544', [System.Security.Principal.WindowsIdentity]::GetCurrent().User.Value)
function Assert-PatchdeskBundleLevel([string]$path) {
  if (-not (Test-Path -LiteralPath $path)) { New-Item -ItemType Directory -Path $path | Out-Null }
  $item = Get-Item -LiteralPath $path -Force
  if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) {
    throw ($path + ' is a junction or symbolic link; Patchdesk will not copy a bundle through it. An administrator should delete it.')
  }
  $owner = (Get-Acl -LiteralPath $path).GetOwner([System.Security.Principal.SecurityIdentifier])
  if ($owners -notcontains $owner.Value) {
    throw ($path + ' is owned by ' + $owner.Value + ', not by SYSTEM or Administrators; Patchdesk will not copy a bundle into it. An administrator should delete it.')
  }
}
$root = Join-Path $env:ProgramData 'Patchdesk'
$bundles = Join-Path $root 'bundles'
$dir = Join-Path $bundles ([string]$P.id)
try {
  foreach ($level in @($root, $bundles, $dir)) { Assert-PatchdeskBundleLevel $level }
  $acl = New-Object System.Security.AccessControl.DirectorySecurity
  $acl.SetAccessRuleProtection($true, $false)
  foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
    $who = New-Object System.Security.Principal.SecurityIdentifier $sid
    $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule $who, 'FullControl', 'ContainerInherit,ObjectInherit', 'None', 'Allow'))
  }
  Set-Acl -LiteralPath $dir -AclObject $acl
  $have = @{}
  foreach ($f in @(Get-ChildItem -LiteralPath $dir -File -Force)) { $have[$f.Name] = [int64]$f.Length }
  $drive = New-Object System.IO.DriveInfo ([System.IO.Path]::GetPathRoot($dir))
  ConvertTo-Json -Compress -InputObject @{ ok = $true; dir = $dir; free = [int64]$drive.AvailableFreeSpace; have = $have }
} catch {
  ConvertTo-Json -Compress -InputObject @{ ok = $false; error = $_.Exception.Message }
  exit 1
}
