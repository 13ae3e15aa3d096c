"""Reading hosts back: the cached JSON/enum decoding gives equal values, get_hosts reads many at once."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain.models import Criticality, Host, HostStatus, Ring, TransportKind, WinRMOptions
from db import hosts as db_hosts


def test_list_and_get_hosts_round_trip(db):
    a = db_hosts.add_host(
        db,
        Host(
            name="win01",
            address="127.0.9.5",
            transport=TransportKind.WINRM,
            winrm=WinRMOptions(auth="kerberos", scheme="http", proxy="http://proxy:3128"),
            tags=("dmz", "pci"),
            services=("nginx",),
            ring=Ring.TEST,
            criticality=Criticality.MISSION_CRITICAL,
        ),
    )
    b = db_hosts.add_host(db, Host(name="lin01", address="127.0.9.6", tags=("dmz", "pci")))
    listed = {h.name: h for h in db_hosts.list_hosts(db)}
    assert listed["win01"] == a and listed["lin01"] == b
    assert listed["win01"].winrm.proxy == "http://proxy:3128" and listed["lin01"].winrm == WinRMOptions()
    assert listed["lin01"].tags == ("dmz", "pci") and listed["lin01"].last_status == HostStatus.NEVER
    assert {h.name for h in db_hosts.get_hosts(db, [a.id, b.id, 999_999])} == {"win01", "lin01"}
    assert db_hosts.get_hosts(db, []) == []
    many = [
        db_hosts.add_host(db, Host(name=f"h{i:04d}", address=f"h{i:04d}.read.invalid")) for i in range(1200)
    ]
    got = db_hosts.get_hosts(db, [h.id for h in many])  # more ids than one query's chunk
    assert len(got) == 1200 and {h.name for h in got} == {h.name for h in many}


def test_hosts_read_back_behave_like_constructed_ones(db):
    added = db_hosts.add_host(db, Host(name="web01", address="127.0.9.7", tags=("dmz",)))
    (read,) = db_hosts.list_hosts(db)
    built = Host(**{f.name: getattr(read, f.name) for f in dataclasses.fields(Host)})
    # filled without the dataclass __init__ (db/hosts.py:_HostFill), and the same in every way
    assert read == built == added and hash(read) == hash(built) and repr(read) == repr(built)
    assert dataclasses.asdict(read) == dataclasses.asdict(built)
    assert dataclasses.replace(read, name="web02").name == "web02"
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing"):
        db_hosts._HostFill(name="partial")  # a reader must fill every field
    assert type(read) is Host and not hasattr(read, "__dict__")  # slotted: 0.3 KB, not 1.5 KB
