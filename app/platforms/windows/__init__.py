"""The Windows family: hosts reached over WinRM (Windows Update, Chocolatey, winget, the SYSTEM task)."""
