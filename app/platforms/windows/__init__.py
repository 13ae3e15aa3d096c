"""Shared pieces of the Windows adapters: PowerShell script rendering and the one-shot SYSTEM task.

The adapters themselves live next to the others (app/platforms/windows_update.py, chocolatey.py,
winget.py); this package holds what they share.
"""
