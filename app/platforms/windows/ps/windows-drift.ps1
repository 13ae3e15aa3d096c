$ErrorActionPreference = 'Stop'
# Every item's targets arrive in $P as data; the answer is one JSON object keyed by item id. An item that
# throws gets its error instead of an answer (and reads as not seen), never as "no drift".
$programs = $null
$answers = @{}
foreach ($check in @($P.items)) {
  $r = @{}
  try {
    switch ([string]$check.kind) {
      'registry' {
        $path = 'Registry::' + [string]$check.key
        $r.exists = '0'
        if (Test-Path -LiteralPath $path) {
          $key = Get-Item -LiteralPath $path
          if (@($key.GetValueNames()) -contains [string]$check.name) {
            $r.exists = '1'
            $r.type = [string]$key.GetValueKind([string]$check.name)
            $v = $key.GetValue([string]$check.name, $null, 'DoNotExpandEnvironmentNames')
            if ($v -is [array]) { $r.value = (@($v) | ForEach-Object { [string]$_ }) -join "`n" } else { $r.value = [string]$v }
          }
        }
      }
      'win-service' {
        $svc = Get-Service -Name ([System.Management.Automation.WildcardPattern]::Escape([string]$check.target)) -ErrorAction SilentlyContinue
        $r.exists = '0'
        if ($svc) {
          $r.exists = '1'
          $r.start_mode = [string]$svc.StartType
          $r.status = [string]$svc.Status
        }
      }
      'program' {
        if ($null -eq $programs) {
          $programs = @(Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*' -ErrorAction SilentlyContinue |
            Where-Object { $_.DisplayName } | ForEach-Object { @{ Name = [string]$_.DisplayName; Version = [string]$_.DisplayVersion } })
        }
        $found = @($programs | Where-Object { $_.Name -eq [string]$check.target })
        $r.installed = ''
        if ($found.Count -gt 0) { $r.installed = [string]$found[0].Version; if (-not $r.installed) { $r.installed = '0' } }
      }
      'local-group' {
        $group = Get-LocalGroup -Name ([string]$check.target) -ErrorAction SilentlyContinue
        $r.exists = '0'
        if ($group) {
          $r.exists = '1'
          $r.members = (@(Get-LocalGroupMember -Group $group) | ForEach-Object { [string]$_.Name }) -join "`n"
        }
      }
      'firewall' {
        $r.enabled = [string](Get-NetFirewallProfile -Name ([string]$check.target)).Enabled
      }
    }
    $r.end = '1'
  } catch {
    $r = @{ error = [string]$_.Exception.Message }
  }
  $answers[[string]$check.id] = $r
}
ConvertTo-Json -Compress -Depth 4 -InputObject @{ Items = $answers }
