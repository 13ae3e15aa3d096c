if (Get-Command choco.exe -ErrorAction SilentlyContinue) { exit 0 } else { exit 1 }
