"""The POSIX family: hosts reached over a POSIX shell (Debian, RPM and SUSE systems)."""
