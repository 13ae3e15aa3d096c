# A CBS package's manifest says whether it may be removed: permanence="permanent" (servicing stacks;
# DISM then fails with 0x800F0825) or "removable"/absent. $null when it cannot be read: unknown.
function Get-PatchdeskPermanence([string]$name) {
  $mum = Join-Path $env:SystemRoot ('servicing\Packages\' + $name + '.mum')
  try {
    [xml]$manifest = [System.IO.File]::ReadAllText($mum)
    $marks = @($manifest.GetElementsByTagName('package') | ForEach-Object { [string]$_.GetAttribute('permanence') })
    return [bool]($marks -contains 'permanent')
  } catch { return $null }
}
$session = New-Object -ComObject Microsoft.Update.Session
$searcher = $session.CreateUpdateSearcher()
# an offline host (bundles applied) asks its bundle's catalogue which updates are installed
$offline = Connect-PatchdeskOfflineCatalogue $searcher $P.offline
Update-PatchdeskProgress 'checking' 10
try { $r = $searcher.Search("IsInstalled=1 and Type='Software'") } finally { [void](Disconnect-PatchdeskOfflineCatalogue $offline) }
$byKb = @{}
foreach ($u in $r.Updates) { foreach ($k in $u.KBArticleIDs) { $byKb['KB' + $k] = $u } }
$pkgs = @()
try { $pkgs = @(Get-WindowsPackage -Online | Where-Object { $_.PackageState -eq 'Installed' }) } catch { }
$checks = @()
foreach ($kb in @($P.kbs)) {
  $kb = [string]$kb
  $u = $byKb[$kb]
  $hot = [bool](Get-HotFix -Id $kb -ErrorAction SilentlyContinue)
  $dism = $null
  foreach ($pkg in $pkgs) {
    if ($pkg.PackageName -like ('*' + $kb + '*')) { $dism = [string]$pkg.PackageName; break }
    if ($pkg.PackageName -like 'Package_for_RollupFix*') {
      $info = Get-WindowsPackage -Online -PackageName $pkg.PackageName -ErrorAction SilentlyContinue
      if ($info -and ([string]$info.Description + ' ' + [string]$info.SupportInformation) -match ($kb.Substring(2))) { $dism = [string]$pkg.PackageName; break }
    }
  }
  $permanent = $null
  if ($dism) { $permanent = Get-PatchdeskPermanence $dism }
  $checks += [ordered]@{ KB = $kb; Installed = ($hot -or $null -ne $u); IsUninstallable = $(if ($u) { [bool]$u.IsUninstallable } else { $null }); DismPackage = $dism; DismPermanent = $permanent }
}
@{ checks = $checks }
