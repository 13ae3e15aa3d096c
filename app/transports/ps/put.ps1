# patchdesk:put
$ErrorActionPreference = 'Stop'
$p = ${@PATH@}
$dir = Split-Path -Parent $p
if ($dir -and -not (Test-Path -LiteralPath $dir)) { New-Item -ItemType Directory -Force -Path $dir | Out-Null }
$tmp = $p + '.patchdesk-tmp'
[System.IO.File]::WriteAllBytes($tmp, $PatchdeskStdin)
Move-Item -LiteralPath $tmp -Destination $p -Force
