$choco = 'choco.exe'
