$a = @('upgrade', $P.id, '-y', '--no-progress', '-r', '--no-color')
if ($P.version) { $a += @('--version', $P.version) }
if ($P.downgrade) { $a += '--allow-downgrade' }
& $choco @a
exit $LASTEXITCODE
