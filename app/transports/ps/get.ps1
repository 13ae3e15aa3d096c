# patchdesk:get
$ErrorActionPreference = 'Stop'
$p = ${@PATH@}
if (-not (Test-Path -LiteralPath $p -PathType Leaf)) { [Console]::Error.WriteLine('not found'); exit 2 }
$fs = [System.IO.File]::Open($p, 'Open', 'Read', 'ReadWrite')
try {
  [void]$fs.Seek(${@OFFSET@}, 'Begin')
  $buf = New-Object byte[] ${@COUNT@}
  $n = 0
  while ($n -lt $buf.Length) { $r = $fs.Read($buf, $n, $buf.Length - $n); if ($r -le 0) { break }; $n += $r }
  [Console]::Out.Write([System.Convert]::ToBase64String($buf, 0, $n))
} finally { $fs.Dispose() }
