$ErrorActionPreference = 'Stop'
# Puts one item back as $P says (the baseline's value, or for a rollback the snapshot's); prints ok.
switch ([string]$P.kind) {
  'registry' {
    $path = 'Registry::' + [string]$P.key
    if ([string]$P.state -eq 'absent') {
      if (Test-Path -LiteralPath $path) { Remove-ItemProperty -LiteralPath $path -Name ([string]$P.name) -ErrorAction SilentlyContinue }
    } else {
      if (-not (Test-Path -LiteralPath $path)) { New-Item -Path $path -Force | Out-Null }
      $value = [string]$P.value
      if ([string]$P.type -eq 'MultiString') { $value = [string[]]($value -split "`n") }
      New-ItemProperty -LiteralPath $path -Name ([string]$P.name) -Value $value -PropertyType ([string]$P.type) -Force | Out-Null
    }
  }
  'win-service' {
    $svc = Get-Service -Name ([System.Management.Automation.WildcardPattern]::Escape([string]$P.target))
    if ($P.start_mode) { $svc | Set-Service -StartupType ([string]$P.start_mode) }
    if ($null -ne $P.running) {
      if ($P.running) { $svc | Start-Service } else { $svc | Stop-Service -Force }
    }
  }
  'firewall' {
    Set-NetFirewallProfile -Name ([string]$P.target) -Enabled ([string]$P.enabled)
  }
  default { throw ('cannot put back a ' + [string]$P.kind + ' item') }
}
ConvertTo-Json -Compress -InputObject @{ ok = $true }
