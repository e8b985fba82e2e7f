"""Which job fires next: a heap of ``(next_due, job id)`` with lazy deletion.

Setting a job's time pushes a new entry; the old one stays in the heap until it
surfaces and is recognised as stale. The heap is rebuilt when stale entries
outnumber live ones, so memory stays proportional to the number of jobs.
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime


class DueIndex:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._due: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._due

    @property
    def entries(self) -> int:
        """Heap entries held, stale ones included: what the memory grows with."""
        return len(self._heap)

    def set(self, job_id: int, due: datetime | None) -> None:
        """Fire ``job_id`` at ``due``; None takes it out."""
        if due is None:
            self.discard(job_id)
            return
        stamp = due.timestamp()
        if self._due.get(job_id) == stamp:
            return
        self._due[job_id] = stamp
        heapq.heappush(self._heap, (stamp, job_id))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._rebuild()

    def discard(self, job_id: int) -> None:
        self._due.pop(job_id, None)

    def due_at(self, job_id: int) -> datetime | None:
        stamp = self._due.get(job_id)
        return None if stamp is None else datetime.fromtimestamp(stamp, UTC)

    def next_due(self) -> datetime | None:
        """The earliest fire time of any job, or None when nothing is scheduled."""
        self._drop_stale()
        return datetime.fromtimestamp(self._heap[0][0], UTC) if self._heap else None

    def pop_due(self, now: datetime, limit: int | None = None) -> list[int]:
        """Take out the jobs due at ``now`` (at most ``limit``), earliest first."""
        cutoff = now.timestamp()
        taken: list[int] = []
        while self._heap and (limit is None or len(taken) < limit):
            self._drop_stale()
            if not self._heap or self._heap[0][0] > cutoff:
                break
            _, job_id = heapq.heappop(self._heap)
            del self._due[job_id]
            taken.append(job_id)
        return taken

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)

    def _rebuild(self) -> None:
        self._heap = [(stamp, job_id) for job_id, stamp in self._due.items()]
        heapq.heapify(self._heap)
