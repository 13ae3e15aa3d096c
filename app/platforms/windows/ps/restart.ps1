shutdown.exe /r /t 5 /d p:2:17 /c "Patchdesk: restart after updates"
exit $LASTEXITCODE
