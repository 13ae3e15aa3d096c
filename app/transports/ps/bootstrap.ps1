# patchdesk:bootstrap
$patchdeskLines = @($input)
$patchdeskScript = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String([string]$patchdeskLines[0]))
$PatchdeskStdin = [byte[]]@()
if ($patchdeskLines.Count -gt 1 -and [string]$patchdeskLines[1]) { $PatchdeskStdin = [System.Convert]::FromBase64String([string]$patchdeskLines[1]) }
Remove-Variable patchdeskLines
. ([ScriptBlock]::Create($patchdeskScript))
