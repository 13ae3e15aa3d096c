# The OS build (with its update revision) and the processor architecture a bundle is built for.
$cv = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -ErrorAction Stop
ConvertTo-Json -Compress -InputObject @{
  Build = [string]$cv.CurrentBuildNumber
  Revision = [string]$cv.UBR
  Arch = [string]$env:PROCESSOR_ARCHITECTURE
}
