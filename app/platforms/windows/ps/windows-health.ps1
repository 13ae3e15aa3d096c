$ErrorActionPreference = 'Stop'
$since = [DateTimeOffset]::FromUnixTimeMilliseconds([int64]$P.sinceMs).LocalDateTime
$events = @()
$eventsError = $null
try {
  $events = @(Get-WinEvent -FilterHashtable @{ LogName = 'System', 'Application'; Level = 1, 2; StartTime = $since } -MaxEvents $P.max -ErrorAction Stop |
    ForEach-Object { @{ Time = $_.TimeCreated.ToUniversalTime().ToString('o'); Log = [string]$_.LogName; Source = [string]$_.ProviderName; Id = [int]$_.Id; Level = [string]$_.LevelDisplayName; Message = ([string]$_.Message -split "`r?`n")[0] } })
} catch {
  # No match is an exception, not an empty list: that is zero errors.
  if ([string]$_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { $eventsError = [string]$_.Exception.Message }
}
$services = @{}
foreach ($n in @($P.services)) {
  $s = Get-Service -Name $n -ErrorAction SilentlyContinue
  $services[$n] = $(if ($s) { [string]$s.Status } else { 'NotFound' })
}
ConvertTo-Json -Compress -Depth 4 -InputObject @{
  Now = [DateTime]::UtcNow.ToString('o')
  LastBoot = ${@BOOT@}
  Events = $events
  EventsError = $eventsError
  Services = $services
}
