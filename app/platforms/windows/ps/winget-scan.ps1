$pkgs = @(Get-WinGetPackage | Where-Object { $_.IsUpdateAvailable } | ForEach-Object {
  [ordered]@{ Id = [string]$_.Id; Name = [string]$_.Name; InstalledVersion = [string]$_.InstalledVersion; AvailableVersion = [string](@($_.AvailableVersions)[0]); Source = [string]$_.Source }
})
@{ packages = $pkgs }
