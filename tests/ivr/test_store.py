"""The IVR's group commit: many jobs per transaction, in order, and one bad job harms no other."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text

from ivr.store import CallStore
from siaga112.models import Reporter


@dataclass
class Note:
    """A batchable job that records the order it ran in."""

    label: str
    log: list

    @classmethod
    def run_batch(cls, session, jobs):
        for job in jobs:
            job.log.append(job.label)
        return [job.label.upper() for job in jobs]


@pytest.fixture
def store(database):
    store = CallStore(database)
    yield store
    store.stop()


def test_jobs_of_one_group_run_in_the_order_they_came_and_share_one_commit(store):
    order: list = []

    def plain(label):
        def job(session):
            order.append(label)
            return label

        return job

    async def main():
        jobs = [Note("a", order), Note("b", order), plain("c"), Note("d", order)]
        pending = [asyncio.ensure_future(store.run(job)) for job in jobs]
        await asyncio.sleep(0)  # every job is queued before the writer starts
        store.start()
        return await asyncio.gather(*pending)

    assert asyncio.run(main()) == ["A", "B", "c", "D"]
    assert order == ["a", "b", "c", "d"]
    assert store.groups == 1


def test_a_failing_job_fails_alone_and_the_others_of_its_group_are_stored(store, database):
    def add(phone):
        def job(session):
            session.add(Reporter(phone=phone))
            session.flush()
            return phone

        return job

    def broken(session):
        session.execute(text("SELECT * FROM no_such_table"))

    async def main():
        pending = [asyncio.ensure_future(store.run(job)) for job in (add("+621"), broken, add("+622"))]
        await asyncio.sleep(0)
        store.start()
        return await asyncio.gather(*pending, return_exceptions=True)

    first, failure, third = asyncio.run(main())
    assert (first, third) == ("+621", "+622") and isinstance(failure, Exception)
    with database.session() as session:
        assert sorted(session.scalars(select(Reporter.phone))) == ["+621", "+622"]
