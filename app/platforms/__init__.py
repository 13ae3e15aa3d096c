"""Platform adapters: what Patchdesk knows about each kind of host.

base.py is the adapter contract and the helpers every adapter shares; family.py the interface a
family of hosts supplies (facts, health, restart, wording); registry.py the ordered probe table of
every adapter. The families themselves are posix/ (apt, dnf, zypper) and windows/ (Windows Update,
Chocolatey, winget, the SYSTEM task, and the PowerShell scripts under windows/ps/).
"""
