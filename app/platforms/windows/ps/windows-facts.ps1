$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cv = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -ErrorAction SilentlyContinue
$build = [string]$os.Version
if ($cv -and $cv.CurrentBuildNumber) { $build = '{0}.{1}' -f $cv.CurrentBuildNumber, $cv.UBR }
ConvertTo-Json -Compress -InputObject @{
  Caption = [string]$os.Caption
  Version = [string]$os.Version
  Build = $build
  DisplayVersion = $(if ($cv) { [string]$cv.DisplayVersion } else { '' })
  Hostname = [string]$env:COMPUTERNAME
  UptimeSeconds = [int]((Get-Date) - $os.LastBootUpTime).TotalSeconds
  LastBoot = ${@BOOT@}
  PSVersion = [string]$PSVersionTable.PSVersion
  Choco = [bool](Get-Command choco.exe -ErrorAction SilentlyContinue)
  WinGet = [bool](Get-Module -ListAvailable -Name Microsoft.WinGet.Client)
}
