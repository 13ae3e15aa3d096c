$ErrorActionPreference = 'Stop'
# Every copied file against the manifest's SHA-256; a bad or missing one is named and deleted (the
# next apply copies it again).
$dir = Join-Path (Join-Path (Join-Path $env:ProgramData 'Patchdesk') 'bundles') ([string]$P.id)
$bad = @()
foreach ($want in @($P.files)) {
  $path = Join-Path $dir ([string]$want.name)
  $got = ''
  if (Test-Path -LiteralPath $path -PathType Leaf) { $got = [string](Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash }
  if ($got.ToLowerInvariant() -ne [string]$want.sha256) {
    $bad += [string]$want.name
    Remove-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue
  }
}
ConvertTo-Json -Compress -InputObject @{ checked = @($P.files).Count; bad = $bad }
