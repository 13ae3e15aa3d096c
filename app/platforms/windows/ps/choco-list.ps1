$major = 2
try { $major = ([version]((& $choco --version) -replace '[^0-9.].*$', '')).Major } catch { }
if ($major -lt 2) { & $choco list --local-only -r --no-color } else { & $choco list -r --no-color }
exit $LASTEXITCODE
