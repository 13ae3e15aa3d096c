$ErrorActionPreference = 'Stop'
# One piece of one file, written at its offset: an interrupted copy continues where it stopped.
$dir = Join-Path (Join-Path (Join-Path $env:ProgramData 'Patchdesk') 'bundles') ([string]$P.id)
$path = Join-Path $dir ([string]$P.name)
$offset = [int64]$P.offset
$f = New-Object System.IO.FileStream $path, ([System.IO.FileMode]::OpenOrCreate), ([System.IO.FileAccess]::Write)
try {
  if ($f.Length -lt $offset) { throw ('the copy of ' + [string]$P.name + ' is shorter than ' + $offset + ' bytes') }
  $f.SetLength($offset)
  [void]$f.Seek($offset, [System.IO.SeekOrigin]::Begin)
  $f.Write($PatchdeskStdin, 0, $PatchdeskStdin.Length)
} finally { $f.Close() }
