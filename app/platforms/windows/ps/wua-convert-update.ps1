function ConvertTo-PatchdeskUpdate($u) {
  [ordered]@{
    Title = [string]$u.Title
    UpdateID = [string]$u.Identity.UpdateID
    RevisionNumber = [int]$u.Identity.RevisionNumber
    KBArticleIDs = @($u.KBArticleIDs | ForEach-Object { [string]$_ })
    MsrcSeverity = [string]$u.MsrcSeverity
    Categories = @($u.Categories | ForEach-Object { [string]$_.Name })
    CategoryIDs = @($u.Categories | ForEach-Object { [string]$_.CategoryID })
    CveIDs = @($u.CveIDs | ForEach-Object { [string]$_ })
    SecurityBulletinIDs = @($u.SecurityBulletinIDs | ForEach-Object { [string]$_ })
    RebootBehavior = [int]$u.InstallationBehavior.RebootBehavior
    MaxDownloadSize = [int64]$u.MaxDownloadSize
    IsUninstallable = [bool]$u.IsUninstallable
    Type = [int]$u.Type
    BrowseOnly = [bool]$u.BrowseOnly
    # IWindowsDriverUpdate: the device a driver update applies to (empty on other updates)
    DriverManufacturer = [string]$u.DriverManufacturer
    DriverModel = [string]$u.DriverModel
    DriverClass = [string]$u.DriverClass
  }
}
