& $choco uninstall $P.id -y --no-progress -r --no-color
exit $LASTEXITCODE
