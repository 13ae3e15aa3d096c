# A host with offline bundles searches Microsoft's offline catalogue (wsusscn2.cab) of the bundle
# applied last, registered for this search only (not with Automatic Updates) and removed after it:
# the host's own Windows Update or WSUS configuration is not touched. No bundle ids: $null, and the
# searcher keeps the host's own settings.
function Connect-PatchdeskOfflineCatalogue($searcher, $ids) {
  if (-not $ids) { return $null }
  $cabs = @(foreach ($id in @($ids)) {
    $cab = Join-Path (Join-Path (Join-Path (Join-Path $env:ProgramData 'Patchdesk') 'bundles') ([string]$id)) 'wsusscn2.cab'
    if (Test-Path -LiteralPath $cab -PathType Leaf) { Get-Item -LiteralPath $cab -Force }
  })
  if ($cabs.Count -eq 0) { throw 'No applied bundle on this host holds wsusscn2.cab; apply the bundle again.' }
  $newest = @($cabs | Sort-Object -Property LastWriteTimeUtc -Descending)[0]
  $manager = New-Object -ComObject Microsoft.Update.ServiceManager
  $manager.ClientApplicationID = 'Patchdesk'
  $service = $manager.AddScanPackageService('Patchdesk offline bundle', $newest.FullName, 0)
  $searcher.ServerSelection = 3
  $searcher.ServiceID = [string]$service.ServiceID
  $searcher.Online = $false
  return @{ manager = $manager; service = $service }
}
# Unregisters the catalogue again; returns a warning when that failed, nothing otherwise.
function Disconnect-PatchdeskOfflineCatalogue($offline) {
  if ($null -eq $offline) { return }
  try { $offline.manager.RemoveService([string]$offline.service.ServiceID) } catch { 'The offline catalogue could not be unregistered: ' + $_.Exception.Message }
}
