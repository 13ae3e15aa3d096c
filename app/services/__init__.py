"""Use cases: what an administrator does, written once and called by both the CLI and the GUI.

Each module writes through db/ and records the audit entry of its action, so an action means the
same whichever face made it. Reads for display may go to db/ directly.
"""
