"""The demo world is consistent before it touches a database."""

from __future__ import annotations

from portal.demo import COMMUNITIES, ORGANISATIONS, PEOPLE, REVIEWERS
from portal.people.models import Role


def test_people_are_unique_and_valid():
    phones = [p["phone"] for p in PEOPLE]
    keys = [p["key"] for p in PEOPLE]
    assert len(set(phones)) == len(phones) and len(set(keys)) == len(keys)
    assert all(len(p) == 11 and p.isdigit() and p.startswith("1") for p in phones)


def test_places_referenced_by_people_exist():
    buildings = {(c["key"], b) for c in COMMUNITIES for bs in c["grids"].values() for b in bs}
    communities = {c["key"] for c in COMMUNITIES}
    orgs = {o["key"] for o in ORGANISATIONS}
    for person in PEOPLE:
        if person["building"]:
            assert (person["home"], person["building"]) in buildings, person["key"]
        for role, place, org in person["roles"]:
            if role in (Role.STAFF, Role.MERCHANT, Role.PARTY_MEMBER):
                assert place in communities
            if role == Role.MERCHANT:
                assert org in orgs


def test_reports_are_reviewed_by_other_people_who_are_staff_there():
    staff = {p["key"]: {place for role, place, _o in p["roles"] if role == Role.STAFF} for p in PEOPLE}
    for person in PEOPLE:
        if "report" in person:
            reviewer = REVIEWERS[person["home"]]
            assert reviewer != person["key"]
            assert person["home"] in staff[reviewer]
