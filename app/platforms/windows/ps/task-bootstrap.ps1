# The scheduled task's action, as an -EncodedCommand: it reads run.ps1 and runs its text as a script
# block, which no execution policy governs (Group Policy's AllSigned refuses an unsigned -File).
$PatchdeskDir = Join-Path $env:ProgramData ('Patchdesk\tasks\' + $P.id)
. ([ScriptBlock]::Create([System.IO.File]::ReadAllText((Join-Path $PatchdeskDir 'run.ps1'))))
