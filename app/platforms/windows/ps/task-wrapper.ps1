# patchdesk:task
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# $PatchdeskDir comes from the task's bootstrap (task-bootstrap.ps1), which runs this file's text.
$PatchdeskStatus = Join-Path $PatchdeskDir 'status.json'
function Write-PatchdeskStatus([hashtable]$s) {
  $s['updated'] = (Get-Date).ToUniversalTime().ToString('o')
  $json = ConvertTo-Json -InputObject $s -Depth 8 -Compress
  $tmp = $PatchdeskStatus + '.tmp'
  [System.IO.File]::WriteAllText($tmp, $json, (New-Object System.Text.UTF8Encoding $false))
  # File.Replace swaps the file in one step, so a reader sees the old or the new status, never half;
  # it fails while someone holds status.json open without delete sharing, hence the retries.
  for ($try = 1; ; $try++) {
    try {
      if ([System.IO.File]::Exists($PatchdeskStatus)) { [System.IO.File]::Replace($tmp, $PatchdeskStatus, $null) } else { [System.IO.File]::Move($tmp, $PatchdeskStatus) }
      break
    } catch {
      if ($try -ge 50) { throw }
      Start-Sleep -Milliseconds 200
    }
  }
}
$PatchdeskRuns = 1
if (Test-Path -LiteralPath $PatchdeskStatus) {
  $old = $null
  try { $old = [System.IO.File]::ReadAllText($PatchdeskStatus) | ConvertFrom-Json } catch { }
  if ($old -and ($old.state -eq 'done' -or $old.state -eq 'failed')) { exit 0 }
  if ($old) { $PatchdeskRuns = [int]$old.runs + 1 }
}
# An absolute expiry, counted from when the console wrote this file: a task left behind (the console
# gave up, the host was off) must not install anything at some later boot, outside any window.
$PatchdeskExpires = [System.IO.File]::GetCreationTimeUtc((Join-Path $PatchdeskDir 'run.ps1')).AddSeconds(${@LIMIT@})
if ((Get-Date).ToUniversalTime() -gt $PatchdeskExpires) {
  Write-PatchdeskStatus @{ state = 'failed'; phase = 'expired'; runs = $PatchdeskRuns; error = 'The task expired before it could run (again); nothing was started.' }
  exit 0
}
function Update-PatchdeskProgress([string]$phase, [int]$progress) {
  Write-PatchdeskStatus @{ state = 'running'; phase = $phase; progress = $progress; runs = $PatchdeskRuns }
}
Update-PatchdeskProgress 'starting' 0
try {
  $PatchdeskResult = & {
${@PAYLOAD@}
  }
  Write-PatchdeskStatus @{ state = 'done'; phase = 'done'; progress = 100; runs = $PatchdeskRuns; result = $PatchdeskResult }
} catch {
  # A COM call's failure arrives wrapped (MethodInvocationException, HResult 0x80131501): the code
  # that means something (0x8024402C...) is the innermost exception's.
  $inner = $_.Exception
  while ($inner.InnerException) { $inner = $inner.InnerException }
  Write-PatchdeskStatus @{ state = 'failed'; phase = 'failed'; runs = $PatchdeskRuns; error = ($_ | Out-String).Trim(); hresult = ('0x{0:X8}' -f $inner.HResult) }
}
