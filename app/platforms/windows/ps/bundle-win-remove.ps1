$ErrorActionPreference = 'Stop'
# The bundle's folder and every file in it; a junction in its place is refused, never followed.
$dir = Join-Path (Join-Path (Join-Path $env:ProgramData 'Patchdesk') 'bundles') ([string]$P.id)
if (Test-Path -LiteralPath $dir) {
  if ((Get-Item -LiteralPath $dir -Force).Attributes -band [System.IO.FileAttributes]::ReparsePoint) {
    throw ($dir + ' is a junction or symbolic link; Patchdesk will not delete through it.')
  }
  Remove-Item -LiteralPath $dir -Recurse -Force
}
