& $choco outdated -r --no-color --ignore-unfound
exit $LASTEXITCODE
