& $choco search $P.id --exact --all-versions -r --no-color
exit $LASTEXITCODE
