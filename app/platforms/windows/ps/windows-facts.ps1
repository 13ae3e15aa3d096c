$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cv = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -ErrorAction SilentlyContinue
$build = [string]$os.Version
if ($cv -and $cv.CurrentBuildNumber) { $build = '{0}.{1}' -f $cv.CurrentBuildNumber, $cv.UBR }
# Hardware inventory: each CIM class on its own, so one the host refuses leaves its fields empty
# (unknown) rather than failing the facts.
$cs = $null; $bios = $null; $cpus = @(); $disks = @()
try { $cs = Get-CimInstance -ClassName Win32_ComputerSystem -ErrorAction Stop } catch { $cs = $null }
try { $bios = Get-CimInstance -ClassName Win32_BIOS -ErrorAction Stop } catch { $bios = $null }
try { $cpus = @(Get-CimInstance -ClassName Win32_Processor -ErrorAction Stop) } catch { $cpus = @() }
try { $disks = @(Get-CimInstance -ClassName Win32_DiskDrive -ErrorAction Stop | Select-Object -First 64) } catch { $disks = @() }
$hw = @{
  Manufacturer = $(if ($cs) { [string]$cs.Manufacturer } else { '' })
  Model = $(if ($cs) { [string]$cs.Model } else { '' })
  MemoryBytes = $(if ($cs) { [int64]$cs.TotalPhysicalMemory } else { $null })
  LogicalProcessors = $(if ($cs) { [int]$cs.NumberOfLogicalProcessors } else { $null })
  Serial = $(if ($bios) { [string]$bios.SerialNumber } else { '' })
  BiosVendor = $(if ($bios) { [string]$bios.Manufacturer } else { '' })
  BiosVersion = $(if ($bios) { [string]$bios.SMBIOSBIOSVersion } else { '' })
  BiosDate = $(if ($bios -and $bios.ReleaseDate) { $bios.ReleaseDate.ToString('yyyy-MM-dd') } else { '' })
  CpuModel = $(if ($cpus.Count -gt 0) { [string]$cpus[0].Name } else { '' })
  Disks = @($disks | ForEach-Object {
    @{ Name = [string]$_.DeviceID; Size = [int64]$_.Size; Model = [string]$_.Model; Serial = [string]$_.SerialNumber; MediaType = [string]$_.MediaType }
  })
}
ConvertTo-Json -Compress -Depth 4 -InputObject @{
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
  Hardware = $hw
}
