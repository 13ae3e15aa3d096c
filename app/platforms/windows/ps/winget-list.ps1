$pkgs = @(Get-WinGetPackage | ForEach-Object { [ordered]@{ Id = [string]$_.Id; InstalledVersion = [string]$_.InstalledVersion } })
@{ packages = $pkgs }
