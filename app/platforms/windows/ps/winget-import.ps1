if (-not (Get-Module -ListAvailable -Name Microsoft.WinGet.Client)) { return @{ unavailable = $true } }
Import-Module Microsoft.WinGet.Client
