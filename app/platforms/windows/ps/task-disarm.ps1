# The console stopped waiting (timeout, cancel, deadline): the task must not start again at a later
# boot, outside any window. Disabling it keeps a run in progress going (stopping an install halfway
# is worse) but fires no trigger any more; its end boundary deletes it a day after it expires.
$task = Get-ScheduledTask -TaskName ('Patchdesk-' + $P.id) -TaskPath '\Patchdesk\' -ErrorAction SilentlyContinue
$state = 'Missing'
if ($task) {
  Disable-ScheduledTask -TaskName ('Patchdesk-' + $P.id) -TaskPath '\Patchdesk\' | Out-Null
  $state = [string](Get-ScheduledTask -TaskName ('Patchdesk-' + $P.id) -TaskPath '\Patchdesk\').State
}
ConvertTo-Json -Compress -InputObject @{ task = $state }
